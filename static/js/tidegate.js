// Copy buttons: <button data-copy="#id"> copies the text of the element it names.
document.addEventListener("click", async (event) => {
  const button = event.target.closest("button[data-copy]");
  if (!button) return;
  const source = document.querySelector(button.dataset.copy);
  if (!source) return;
  const text = source.innerText.trim();
  try {
    await navigator.clipboard.writeText(text);
  } catch (err) {
    // Clipboard API needs a secure context; fall back to a selection copy.
    const area = document.createElement("textarea");
    area.value = text;
    document.body.appendChild(area);
    area.select();
    document.execCommand("copy");
    area.remove();
  }
  const label = button.textContent;
  button.textContent = "Copied";
  setTimeout(() => { button.textContent = label; }, 1500);
});

// URL mapping preview: <input id="uri-mapping" data-endpoint="ws://..."> shows, in
// #backend-url, the URL the gateway opens to the backend (the gateway's rule: the
// endpoint's path plus the mapping's path; the endpoint's query, then the mapping's).
function backendUrl(endpoint, mapping) {
  let url;
  try { url = new URL(endpoint); } catch (err) { return endpoint; }
  if (!mapping) return url.toString();
  const [path, query = ""] = mapping.split("?", 2);
  url.pathname = url.pathname.replace(/\/+$/, "") + path;
  const params = new URLSearchParams(url.search);
  for (const [k, v] of new URLSearchParams(query)) params.append(k, v);
  const search = params.toString();
  return url.protocol + "//" + url.host + decodeURI(url.pathname) + (search ? "?" + decodeURIComponent(search) : "");
}
function showMapping() {
  const input = document.getElementById("uri-mapping");
  const out = document.getElementById("backend-url");
  if (!input || !out) return;
  let text = backendUrl(input.dataset.endpoint, input.value.trim());
  if (!input.value.trim()) text += "  (no mapping: the topic path is not passed on)";
  out.textContent = text;
}
document.addEventListener("input", (event) => { if (event.target.id === "uri-mapping") showMapping(); });
document.addEventListener("DOMContentLoaded", showMapping);

// Tabs: <nav class="tabs" data-tabs> with links to #section ids shows one section at a
// time (the one in the address, else the first); without JavaScript all stay visible.
function showTab() {
  const nav = document.querySelector("nav[data-tabs]");
  if (!nav) return;
  const links = [...nav.querySelectorAll("a[href^='#']")];
  const ids = links.map((a) => a.getAttribute("href").slice(1));
  const current = ids.includes(location.hash.slice(1)) ? location.hash.slice(1) : ids[0];
  for (const id of ids) {
    const section = document.getElementById(id);
    if (section) section.hidden = id !== current;
  }
  for (const a of links) {
    if (a.getAttribute("href") === "#" + current) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
}
window.addEventListener("hashchange", showTab);
document.addEventListener("DOMContentLoaded", showTab);
