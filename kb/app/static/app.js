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
  let pending = null, stayY = null, lastRun = null, boxFocused = false;

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
    const box = document.querySelector(BOX);
    if (box && !boxFocused && !typing(document.activeElement)) {
      boxFocused = true;
      box.focus({preventScroll: true});
    }
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
    .filter(el => el.offsetParent !== null);
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
      const els = focusables(body);
      if (!els.length) return;
      const first = els[0], last = els[els.length - 1];
      if (!body.contains(document.activeElement)) { ev.preventDefault(); first.focus(); }
      else if (ev.shiftKey && document.activeElement === first) { ev.preventDefault(); last.focus(); }
      else if (!ev.shiftKey && document.activeElement === last) { ev.preventDefault(); first.focus(); }
    }
  }, true);
  let wasOpen = false;
  const watchPopover = () => {
    const body = popover();
    if (body && !wasOpen) {
      const els = focusables(body);
      if (els.length && !body.contains(document.activeElement)) els[0].focus();
    }
    wasOpen = !!body;
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
    watchPopover();
  }).observe(document.body, {childList: true, subtree: true});
  drawn();
})();
