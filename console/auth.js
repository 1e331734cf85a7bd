// Signing in. Locally the admin API is open (config.json says {"auth": "none"}). On AWS: Cognito hosted
// login with the authorization code flow and PKCE (no client secret can live in a page), the ID token
// exchanged with the identity pool for temporary IAM credentials, and each admin request signed with
// SigV4, so /admin stays AWS_IAM and the CLI keeps working unchanged.

import {AwsClient} from './vendor/aws4fetch.js';

const TOKENS = 'chatbridge.console.tokens';
const VERIFIER = 'chatbridge.console.pkce';

export async function loadConfig() {
  const response = await fetch(new URL('config.json', document.baseURI));
  if (!response.ok) throw new Error(`console settings unavailable (HTTP ${response.status})`);
  return response.json();
}

/** null for the local stack, else a signer with fetch(url, init); may navigate to the login page. */
export async function signIn(config) {
  if (config.auth === 'none') return null;
  if (config.auth !== 'cognito') throw new Error(`unknown auth mode ${config.auth}`);
  const redirectUri = new URL('./', document.baseURI).href;
  const params = new URLSearchParams(location.search);
  let tokens = JSON.parse(sessionStorage.getItem(TOKENS) || 'null');
  if (params.get('code')) {
    const {hash, ...fresh} = await exchangeCode(config, params.get('code'), redirectUri);
    tokens = fresh;
    history.replaceState(null, '', redirectUri + (location.hash || hash));  // back where the operator was
  }
  if (!tokens) {
    await redirectToLogin(config, redirectUri);
    return new Promise(() => {});  // the page is leaving
  }
  return new CognitoSigner(config, tokens, redirectUri);
}

export function signOut(config) {
  sessionStorage.removeItem(TOKENS);
  if (config.auth === 'cognito') {
    const redirectUri = new URL('./', document.baseURI).href;
    location.assign(`${config.login_domain}/logout?client_id=${encodeURIComponent(config.client_id)}` +
                    `&logout_uri=${encodeURIComponent(redirectUri)}`);
  }
}

function base64url(bytes) {
  return btoa(String.fromCharCode(...new Uint8Array(bytes))).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

async function redirectToLogin(config, redirectUri) {
  const verifier = base64url(crypto.getRandomValues(new Uint8Array(32)));
  const state = base64url(crypto.getRandomValues(new Uint8Array(16)));
  // the hash (#/chats/42) is not part of the redirect URI Cognito knows: kept here to return to it
  sessionStorage.setItem(VERIFIER, JSON.stringify({verifier, state, hash: location.hash}));
  const challenge = base64url(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier)));
  const url = new URL('/oauth2/authorize', config.login_domain);
  url.search = new URLSearchParams({
    response_type: 'code', client_id: config.client_id, redirect_uri: redirectUri,
    scope: 'openid email profile', code_challenge_method: 'S256', code_challenge: challenge, state,
  }).toString();
  location.assign(url.href);
}

async function tokenRequest(config, form) {
  const response = await fetch(new URL('/oauth2/token', config.login_domain), {
    method: 'POST', headers: {'Content-Type': 'application/x-www-form-urlencoded'},
    body: new URLSearchParams(form).toString(),
  });
  if (!response.ok) throw new Error(`sign-in failed (HTTP ${response.status})`);
  const answer = await response.json();
  return {...answer, expires_at: Date.now() + answer.expires_in * 1000};
}

async function exchangeCode(config, code, redirectUri) {
  const saved = JSON.parse(sessionStorage.getItem(VERIFIER) || 'null');
  sessionStorage.removeItem(VERIFIER);
  const state = new URLSearchParams(location.search).get('state');
  if (!saved || saved.state !== state) throw new Error('sign-in state does not match; start again');
  const tokens = await tokenRequest(config, {
    grant_type: 'authorization_code', client_id: config.client_id, code, redirect_uri: redirectUri,
    code_verifier: saved.verifier,
  });
  sessionStorage.setItem(TOKENS, JSON.stringify(tokens));
  return {...tokens, hash: saved.hash || ''};
}

async function cognitoIdentity(config, target, body) {
  const response = await fetch(`https://cognito-identity.${config.region}.amazonaws.com/`, {
    method: 'POST',
    headers: {'Content-Type': 'application/x-amz-json-1.1', 'X-Amz-Target': `AWSCognitoIdentityService.${target}`},
    body: JSON.stringify(body),
  });
  const answer = await response.json();
  if (!response.ok) throw new Error(`${target}: ${answer.message || response.status}`);
  return answer;
}

class CognitoSigner {
  constructor(config, tokens, redirectUri) {
    this.config = config;
    this.tokens = tokens;
    this.redirectUri = redirectUri;
    this.client = null;
    this.expires = 0;
    this.pending = null;
    this.identityId = null;
  }

  async idToken() {
    if (this.tokens.expires_at - Date.now() < 60000) {
      if (!this.tokens.refresh_token) throw new Error('session expired; sign in again');
      const fresh = await tokenRequest(this.config, {grant_type: 'refresh_token', client_id: this.config.client_id,
                                                     refresh_token: this.tokens.refresh_token});
      this.tokens = {...this.tokens, ...fresh};
      sessionStorage.setItem(TOKENS, JSON.stringify(this.tokens));
    }
    return this.tokens.id_token;
  }

  /** One identity-pool exchange at a time: the views' first requests start together and share it. */
  credentials() {
    if (this.client && this.expires - Date.now() > 60000) return Promise.resolve(this.client);
    if (!this.pending) this.pending = this.freshCredentials().finally(() => { this.pending = null; });
    return this.pending;
  }

  async freshCredentials() {
    const logins = {[this.config.provider_name]: await this.idToken()};
    // a user's identity id never changes: asked once per page, then only credentials are renewed
    this.identityId = this.identityId || (await cognitoIdentity(this.config, 'GetId',
      {IdentityPoolId: this.config.identity_pool_id, Logins: logins})).IdentityId;
    const {Credentials} = await cognitoIdentity(this.config, 'GetCredentialsForIdentity',
                                                {IdentityId: this.identityId, Logins: logins});
    this.expires = Credentials.Expiration * 1000;
    this.client = new AwsClient({accessKeyId: Credentials.AccessKeyId, secretAccessKey: Credentials.SecretKey,
                                 sessionToken: Credentials.SessionToken, service: 'execute-api',
                                 region: this.config.region});
    return this.client;
  }

  async fetch(url, init) {
    try {
      return await (await this.credentials()).fetch(url, init);
    } catch (error) {
      if (String(error.message).includes('sign in again')) {
        sessionStorage.removeItem(TOKENS);
        await redirectToLogin(this.config, this.redirectUri);
      }
      throw error;
    }
  }
}

/** A signer with fixed credentials (tests check its signatures against botocore). */
export function staticSigner(credentials, region) {
  const client = new AwsClient({...credentials, service: 'execute-api', region});
  return {fetch: (url, init) => client.fetch(url, init)};
}
