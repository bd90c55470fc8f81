// Renders the API's AsyncAPI definition with @asyncapi/web-component (served locally;
// its stylesheet too, so nothing is fetched from the internet).
(function () {
  const holder = document.getElementById("asyncapi-docs");
  const source = document.getElementById("asyncapi-definition");
  if (!holder || !source) return;
  const component = document.createElement("asyncapi-component");
  component.setAttribute("schema", source.textContent);
  component.setAttribute("cssImportPath", holder.dataset.css);
  component.setAttribute(
    "config",
    JSON.stringify({ show: { sidebar: false, info: false, servers: false, operations: true, messages: true, schemas: true, errors: true } })
  );
  holder.appendChild(component);
})();
