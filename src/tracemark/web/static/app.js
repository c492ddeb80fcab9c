// Tracemark: hand-written behaviour shared by every page. No inline scripts (CSP forbids them).
"use strict";

// Send the page's CSRF token with every script-made state-changing request.
window.tracemark = {
  csrfToken() {
    const meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  },
  async post(url, body) {
    const response = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": this.csrfToken() },
      body: JSON.stringify(body || {}),
      credentials: "same-origin",
    });
    return response;
  },
};
