// The change feed: poll a function at an interval, never two at once, paused while the tab is hidden and
// run at once when it shows again (a push design would need this resync after a reconnect too).

export function poll(tick, intervalMs, {onError} = {}) {
  let timer = null;
  let running = false;
  let stopped = false;

  async function run() {
    clearTimeout(timer);
    timer = null;
    if (stopped) return;
    if (document.hidden) return;  // resumed by visibilitychange
    if (running) return;
    running = true;
    try {
      await tick();
    } catch (error) {
      if (onError) onError(error);
    } finally {
      running = false;
    }
    if (!stopped && !document.hidden) timer = setTimeout(run, intervalMs);
  }

  function onVisibility() {
    if (!document.hidden) run();
    else { clearTimeout(timer); timer = null; }
  }

  document.addEventListener('visibilitychange', onVisibility);
  run();
  return {
    now: run,
    stop() {
      stopped = true;
      clearTimeout(timer);
      document.removeEventListener('visibilitychange', onVisibility);
    },
  };
}
