// A command line to copy (kit/widget/__init__.py, CommandLine): never wrapped, scrolled
// sideways, with a Copy button. Its style is in dag.css (.kit-code).

function render({ model, el }) {
  const box = document.createElement("div");
  box.className = "kit-code";
  const pre = document.createElement("pre");
  const button = document.createElement("button");
  button.type = "button";
  button.title = "Copy the line to the clipboard";
  box.append(pre, button);
  el.appendChild(box);

  const show = () => {
    pre.textContent = model.get("text");
    box.hidden = !model.get("text");
    button.textContent = "Copy";
  };
  button.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(pre.textContent);
      button.textContent = "Copied";
    } catch {
      // No clipboard access (an insecure page, a denied permission): select it for Ctrl+C.
      window.getSelection().selectAllChildren(pre);
      button.textContent = "Press Ctrl+C";
    }
  });
  model.on("change:text", show);
  show();
  return () => model.off("change:text", show);
}

export default { render };
