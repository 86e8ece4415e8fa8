(() => {
  if (window.__kbNav) return;
  window.__kbNav = true;
  const KEY = 'kb-scroll:';
  const NAV = ['view', 'post', 'sec', 'more', 'q', 'topic', 'page'];
  const push = history.pushState.bind(history);
  const scroller = () => document.querySelector('[data-testid="stMain"]') || document.scrollingElement;
  const end = () => document.querySelector('.kb-end');
  let pending = null;
  const save = () => {
    const e = end();
    if (pending === null && e && e.dataset.state) {
      try { sessionStorage.setItem(KEY + e.dataset.state, String(scroller().scrollTop)); } catch (err) {}
    }
  };
  const leaving = () => { save(); const e = end(); pending = e ? e.dataset.run : ''; };
  const arrive = () => {
    const e = end();
    if (pending === null || !e || e.dataset.run === pending) return;
    pending = null;
    let y = 0;
    if (e.dataset.state) { try { y = Number(sessionStorage.getItem(KEY + e.dataset.state) || 0); } catch (err) {} }
    const go = () => { scroller().scrollTop = y; };
    go(); requestAnimationFrame(go); setTimeout(go, 120);
  };
  history.pushState = function (state, title, url) {
    try {
      const a = new URL(url, location.href), b = new URL(location.href);
      if (a.pathname === b.pathname &&
          (NAV.every(k => a.searchParams.getAll(k).join('\u0000') === b.searchParams.getAll(k).join('\u0000'))
           || (b.searchParams.get('q') || '').length > 500)) {   // the app cut an over-long query: no way back to it
        return history.replaceState(state, title, url);
      }
    } catch (err) {}
    return push(state, title, url);
  };
  document.addEventListener('click', (ev) => {
    const a = ev.target.closest && ev.target.closest('a[data-kb-go]');
    if (!a || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
    ev.preventDefault();
    const url = new URL(a.getAttribute('href'), location.href), now = new URLSearchParams(location.search);
    for (const k of (a.dataset.kbKeep || '').split(' ').filter(Boolean)) {
      url.searchParams.delete(k);
      for (const v of now.getAll(k)) url.searchParams.append(k, v);
    }
    leaving();
    push({}, '', url.pathname + url.search);
    window.dispatchEvent(new PopStateEvent('popstate', {state: {}}));
  }, true);
  window.addEventListener('popstate', () => { if (pending === null) leaving(); }, true);
  let ticking = false;
  document.addEventListener('scroll', () => {
    if (ticking) return;
    ticking = true;
    requestAnimationFrame(() => { ticking = false; save(); });
  }, true);
  new MutationObserver(() => { if (pending !== null) arrive(); })
    .observe(document.body, {childList: true, subtree: true});
})();
