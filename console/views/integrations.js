// placeholder, replaced below
export class IntegrationsView { constructor(api, root) { root.textContent = 'Integrations'; } destroy() {} }
