(() => {
  if (window.__kbNav) return;
  window.__kbNav = true;

  // Not inside another site's frame: a page of another origin must not show (and get clicks on) the app.
  let foreignFrame = false;
  if (window.top !== window.self) {
    try { foreignFrame = window.top.location.origin !== window.location.origin; } catch (err) { foreignFrame = true; }
  }
  if (foreignFrame) {
    document.documentElement.style.display = 'none';
    try { window.top.location.href = window.location.href; } catch (err) {}
    return;
  }
  document.documentElement.lang = 'ko';

  const KEY = 'kb-scroll:';
  const NAV = ['view', 'post', 'sec', 'more', 'q', 'topic', 'page'];
  const BOX = 'input[aria-label="Search every weekly issue"]';
  const push = history.pushState.bind(history);
  const scroller = () => document.querySelector('[data-testid="stMain"]') || document.scrollingElement;
  const end = () => document.querySelector('.kb-end');
  const typing = (el) => el && (el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName));
  let pending = null, stayY = null, lastRun = null;

  const save = () => {
    const e = end();
    if (pending === null && e && e.dataset.state) {
      try { sessionStorage.setItem(KEY + e.dataset.state, String(scroller().scrollTop)); } catch (err) {}
    }
  };
  const leaving = (stay) => {
    save();
    const e = end();
    pending = e ? e.dataset.run : '';
    stayY = stay ? scroller().scrollTop : null;
  };
  // Where the keyboard goes once a page is drawn: a link asked to take it (a correction's Undo), else the section
  // that was opened, else (on a fresh page) the search box.
  const placeFocus = () => {
    const want = document.querySelector('[data-kb-focus]');
    if (want && !typing(document.activeElement)) { want.focus({preventScroll: true}); want.scrollIntoView({block: 'nearest'}); return; }
    const target = document.querySelector('.kb-target');
    if (target) { target.setAttribute('tabindex', '-1'); target.focus({preventScroll: true}); return; }
    focusBox();
  };
  // Until the reader first clicks, taps or types, the search box holds the focus (a page drawn again keeps it).
  let acted = false;
  for (const t of ['mousedown', 'touchstart', 'keydown']) document.addEventListener(t, () => { acted = true; }, true);
  const focusBox = () => {
    const box = document.querySelector(BOX);
    if (!box || acted || document.querySelector('.kb-target, [data-kb-focus]')) return;
    const now = document.activeElement;
    if (now && now !== document.body) return;
    box.focus({preventScroll: true});
  };
  const arrive = () => {
    const e = end();
    if (pending === null || !e || e.dataset.run === pending) return;
    pending = null;
    let y = 0;
    if (stayY !== null) { y = stayY; stayY = null; }
    else if (e.dataset.state) { try { y = Number(sessionStorage.getItem(KEY + e.dataset.state) || 0); } catch (err) {} }
    const go = () => { scroller().scrollTop = y; };
    go(); requestAnimationFrame(go); setTimeout(go, 120);
    setTimeout(placeFocus, 130);
  };
  const drawn = () => {
    const e = end();
    if (!e || e.dataset.run === lastRun) return;
    lastRun = e.dataset.run;
    if (e.dataset.title) document.title = e.dataset.title;
    if (pending === null) placeFocus();
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
    leaving(a.dataset.kbStay === '1');
    push({}, '', url.pathname + url.search);
    window.dispatchEvent(new PopStateEvent('popstate', {state: {}}));
  }, true);
  window.addEventListener('popstate', () => { if (pending === null) leaving(false); }, true);

  // The keyboard: "/" goes to the search box; in an open popover Tab stays inside and Esc closes it.
  const popover = () => document.querySelector('[data-testid="stPopoverBody"]');
  const popButton = () => document.querySelector('[data-testid="stPopover"] button');
  const focusables = (root) => [...root.querySelectorAll(
    'a[href], button:not([disabled]), input:not([disabled]), textarea, select, [tabindex]:not([tabindex="-1"])')]
    .filter(el => el.offsetParent !== null && el.tabIndex >= 0 && el.type !== 'hidden');
  document.addEventListener('keydown', (ev) => {
    if (ev.key === '/' && !ev.ctrlKey && !ev.metaKey && !ev.altKey && !typing(ev.target)) {
      const box = document.querySelector(BOX);
      if (box) { ev.preventDefault(); box.focus(); box.select(); }
      return;
    }
    const body = popover();
    if (!body) return;
    if (ev.key === 'Escape') {
      const button = popButton();
      setTimeout(() => { if (popover() && button) button.click(); if (button) button.focus(); }, 0);
    } else if (ev.key === 'Tab') {
      // A Tab that would leave the open popover wraps around inside it.
      const back = ev.shiftKey, els = focusables(body);
      const edge = back ? els[0] : els[els.length - 1];
      if (els.length && (document.activeElement === edge || !body.contains(document.activeElement))) {
        ev.preventDefault();
        (back ? els[els.length - 1] : els[0]).focus();
        return;
      }
      setTimeout(() => {
        const open = popover();
        if (!open || open.contains(document.activeElement)) return;
        const els = focusables(open);
        if (els.length) (back ? els[els.length - 1] : els[0]).focus();
      }, 0);
    }
  }, true);
  let movedInto = false;          // focus went into the popover that is open now
  const watchPopover = () => {
    const body = popover();
    if (!body) { movedInto = false; return; }
    if (movedInto) return;
    const els = focusables(body);
    if (!els.length) return;
    movedInto = true;
    if (!body.contains(document.activeElement)) els[0].focus();
  };
  let ticking = false;
  document.addEventListener('scroll', () => {
    if (ticking) return;
    ticking = true;
    requestAnimationFrame(() => { ticking = false; save(); });
  }, true);
  new MutationObserver(() => {
    if (pending !== null) arrive();
    drawn();
    focusBox();
    watchPopover();
  }).observe(document.body, {childList: true, subtree: true});
  drawn();
})();
