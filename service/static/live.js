// The live view: every few seconds, fetch the page's changing part (server-rendered HTML,
// student text escaped there) and swap it in; say what changed in a polite live region.
// A pause button stops and restarts the updates.
"use strict";

(() => {
  const EVERY_MS = 5000;
  const root = document.querySelector(".live[data-fragment]");
  if (!root) return;
  const now = root.querySelector(".live-now");
  const status = root.querySelector(".live-status");
  const pause = root.querySelector(".live-pause");
  let paused = false;
  let last = null;

  function announce(counts) {
    if (last !== null) {
      const news = counts.submitted - last.submitted;
      const graded = counts.graded - last.graded;
      if (news > 0 || graded > 0) {
        status.textContent = `${counts.submitted} submitted, ${counts.graded} graded, ` +
          `${counts.right} right (${news} new).`;
      }
    }
    last = counts;
  }

  async function refresh() {
    if (paused || document.hidden) return;
    try {
      const response = await fetch(root.dataset.fragment, {
        headers: { Accept: "application/json" },
        credentials: "same-origin",
      });
      if (!response.ok) throw new Error(`answer ${response.status}`);
      const data = await response.json();
      now.innerHTML = data.html;
      announce({ submitted: data.submitted, graded: data.graded, right: data.right });
    } catch (error) {
      status.textContent = `Updates failed (${error.message}); retrying.`;
    }
  }

  pause.hidden = false;
  pause.addEventListener("click", () => {
    paused = !paused;
    pause.setAttribute("aria-pressed", String(paused));
    pause.textContent = paused ? "Resume updates" : "Pause updates";
    status.textContent = paused ? "Updates paused." : "Updates resumed.";
    if (!paused) refresh();
  });
  announce({
    submitted: Number(now.querySelector(".live-submitted")?.textContent || 0),
    graded: Number(now.querySelector(".live-graded")?.textContent || 0),
    right: Number(now.querySelector(".live-right")?.textContent || 0),
  });
  setInterval(refresh, EVERY_MS);
})();
