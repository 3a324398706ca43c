// The kit DAG view: draws the payload that kit/dag/payload.py computes (positions included),
// and turns clicks into model changes. It never lays anything out itself.
//
// Model state: graph (a DagPayload), selected (node names, in click order), collapsed (module
// names), plan (a TaskColouring of a promotion preview), error (a message to show over the
// last good graph). The widget, the standalone page of `kit dag` and the browser tests all
// go through `render`.

/**
 * The payload's shape, kept in step with the TypedDicts of kit/dag/payload.py (a test checks
 * that both name the same keys).
 *
 * @typedef {Object} Variant
 * @property {string} function the decorated function's name
 * @property {string} when its `@config...` lines as written
 * @property {boolean} chosen whether the config chose it
 *
 * @typedef {Object} DagNode
 * @property {string} id the node name, or "module:NAME" for a collapsed module
 * @property {string} name what the box shows
 * @property {"function"|"input"|"config"|"module"} kind
 * @property {string} sub the box's second line
 * @property {string} type
 * @property {string|null} module
 * @property {string} doc
 * @property {Object<string, *>} tags
 * @property {string} source where the node is defined
 * @property {Variant[]} variants
 * @property {""|"code"|"interface"|"added"} changed how its function changed since the last export
 * @property {string} pulled the task of the pulled run whose value it has, or ""
 * @property {string[]} [members] a collapsed module's nodes
 * @property {string} color
 * @property {number} x centre
 * @property {number} y centre
 * @property {number} w
 * @property {number} h
 *
 * @typedef {Object} DagEdge
 * @property {string} source displayed id
 * @property {string} target displayed id
 * @property {string} path SVG path data
 *
 * @typedef {Object} GroupBox
 * @property {string} name
 * @property {"module"} kind
 * @property {string} color
 * @property {number} x left
 * @property {number} y top
 * @property {number} w
 * @property {number} h
 *
 * @typedef {Object} Unchosen
 * @property {string} node
 * @property {Variant[]} variants
 *
 * @typedef {Object} ModuleEntry
 * @property {string} name
 * @property {string} color
 * @property {boolean} collapsed
 * @property {number} count
 * @property {boolean} cell
 * @property {Unchosen[]} unchosen
 *
 * @typedef {Object} DagPayload
 * @property {string} engine
 * @property {string} note
 * @property {number} width
 * @property {number} height
 * @property {DagNode[]} nodes
 * @property {DagEdge[]} edges
 * @property {GroupBox[]} groups
 * @property {ModuleEntry[]} modules
 * @property {Object<string, string[]>} deps every node name -> the names it depends on
 * @property {Object<string, string>} shown every node name -> the id of the box it is drawn in
 * @property {string} run the pulled run ("run 'NAME' of FLOW: STATE"), or ""
 *
 * @typedef {Object} TaskEntry
 * @property {string} name
 * @property {string} color
 * @property {string[]} outputs
 *
 * @typedef {Object} TaskColouring
 * @property {Object<string, string>} task_of node name -> task name
 * @property {TaskEntry[]} tasks
 */

const SVG_NS = "http://www.w3.org/2000/svg";
const MIN_SCALE = 0.03;
const MAX_SCALE = 4;
const NAME_PX = 12; // font size of a node name in graph units (dag.css, .kit-node-name)
const READABLE_PX = 11; // a first view never draws a node name smaller than this on screen
const READABLE_SCALE = READABLE_PX / NAME_PX;
const VIEW_PAD = 8; // screen pixels kept free around a fitted graph
const MIN_CANVAS = 160; // px
const MAX_CANVAS = 0.7; // of the window's height

function svgElement(tag, attributes = {}, parent = null) {
  const element = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, value);
  if (parent) parent.appendChild(element);
  return element;
}

function htmlElement(tag, className = "", parent = null, text = null) {
  const element = document.createElement(tag);
  if (className) element.className = className;
  if (text !== null) element.textContent = text;
  if (parent) parent.appendChild(element);
  return element;
}

/** Names of `names` and every node they depend on, through the full dependency map. */
export function upstreamOf(names, deps) {
  const seen = new Set();
  const pending = [...names];
  while (pending.length) {
    const name = pending.pop();
    if (seen.has(name)) continue;
    seen.add(name);
    for (const dep of deps[name] || []) if (!seen.has(dep)) pending.push(dep);
  }
  return seen;
}

/** The smallest box holding `nodes` (payload nodes, centred at x, y). */
function boundsOf(nodes) {
  let left = Infinity, top = Infinity, right = -Infinity, bottom = -Infinity;
  for (const node of nodes) {
    left = Math.min(left, node.x - node.w / 2);
    top = Math.min(top, node.y - node.h / 2);
    right = Math.max(right, node.x + node.w / 2);
    bottom = Math.max(bottom, node.y + node.h / 2);
  }
  return { left, top, right, bottom };
}

/** An offset that keeps a drawing of `size` filling a view of `extent` where it is larger. */
function clampOffset(offset, extent, size) {
  if (size <= extent - 2 * VIEW_PAD) return (extent - size) / 2;
  return Math.min(VIEW_PAD, Math.max(extent - VIEW_PAD - size, offset));
}

class DagView {
  constructor(model, el) {
    this.model = model;
    this.el = el;
    this.transform = { x: 0, y: 0, k: 1 };
    this.viewed = false; // whether a graph with nodes was drawn yet
    this.firstView = false; // a graph with nodes waits for its first view (fitted, readable)
    this.moved = false; // the user panned or zoomed: resizes no longer refit the view
    this.lastWidth = 0;
    this.hovered = null; // the node group under the pointer
    this.nodeElements = new Map(); // displayed id -> <g>
    this.nodeData = new Map(); // displayed id -> payload node
    this.edgeElements = []; // [{source, target, element}]
    this.state = new Map(); // displayed id -> "selected" | "upstream" | ""
    this.handlers = [];
    this.build();
    this.listen("change:graph", () => this.draw());
    this.listen("change:selected", () => this.highlight());
    this.listen("change:plan", () => this.colourTasks());
    this.listen("change:error", () => this.showError());
    this.draw();
    this.showError();
    this.resizeObserver = new ResizeObserver(() => this.onResize());
    this.resizeObserver.observe(this.canvas);
  }

  listen(event, handler) {
    this.model.on(event, handler);
    this.handlers.push([event, handler]);
  }

  destroy() {
    for (const [event, handler] of this.handlers) this.model.off(event, handler);
    this.resizeObserver.disconnect();
  }

  // -- skeleton ---------------------------------------------------------------------------------

  build() {
    const root = htmlElement("div", "kit-dag", this.el);
    this.root = root;
    const toolbar = htmlElement("div", "kit-toolbar", root);
    this.search = htmlElement("input", "kit-search", toolbar);
    this.search.type = "search";
    this.search.placeholder = "Search nodes";
    this.search.setAttribute("aria-label", "Search nodes");
    this.search.addEventListener("input", () => this.applySearch());
    this.search.addEventListener("keydown", (event) => {
      if (event.key === "Enter") this.centreOnFirstMatch();
    });
    const fit = htmlElement("button", "kit-fit", toolbar, "Fit");
    fit.title = "Fit the whole graph in view";
    fit.addEventListener("click", () => this.fit());
    const clear = htmlElement("button", "kit-clear", toolbar, "Clear selection");
    clear.addEventListener("click", () => this.setSelected([]));
    this.status = htmlElement("span", "kit-status", toolbar);

    this.errorBox = htmlElement("div", "kit-error", root);
    this.errorBox.hidden = true;
    this.empty = htmlElement("div", "kit-empty", root);
    this.empty.hidden = true;

    this.canvas = htmlElement("div", "kit-canvas", root);
    this.svg = svgElement("svg", { class: "kit-svg", role: "img", "aria-label": "Hamilton DAG" }, this.canvas);
    const defs = svgElement("defs", {}, this.svg);
    const marker = svgElement(
      "marker",
      { id: this.markerId(), viewBox: "0 0 10 10", refX: "9", refY: "5", markerWidth: "7", markerHeight: "7", orient: "auto" },
      defs,
    );
    svgElement("path", { d: "M0,0 L10,5 L0,10 z", class: "kit-arrow" }, marker);
    this.viewport = svgElement("g", { class: "kit-viewport" }, this.svg);
    this.tooltip = htmlElement("div", "kit-tooltip", this.canvas);
    this.tooltip.hidden = true;
    this.legend = htmlElement("div", "kit-legend", root);
    this.legend.addEventListener("click", (event) => {
      const toggle = event.target.closest(".kit-collapse");
      if (toggle) this.setCollapsed(toggle.dataset.module, toggle.dataset.collapse === "true");
    });
    this.listenToNodes();
    this.enablePanZoom();
  }

  markerId() {
    if (!this._markerId) this._markerId = `kit-arrow-${Math.random().toString(36).slice(2, 10)}`;
    return this._markerId;
  }

  /** One set of handlers on the SVG for every node and group label, however often it redraws. */
  listenToNodes() {
    const nodeOf = (event) => {
      const g = event.target.closest(".kit-node");
      return g && this.nodeData.get(g.dataset.name);
    };
    this.svg.addEventListener("click", (event) => {
      const toggle = event.target.closest(".kit-toggle");
      if (toggle) {
        this.setCollapsed(toggle.dataset.group, true);
        return;
      }
      const node = nodeOf(event);
      if (node) this.onNodeClick(node);
    });
    this.svg.addEventListener("keydown", (event) => {
      const node = nodeOf(event);
      if (node && (event.key === "Enter" || event.key === " ")) {
        event.preventDefault();
        this.onNodeClick(node);
      }
    });
    this.svg.addEventListener("pointerover", (event) => {
      const g = event.target.closest(".kit-node");
      if (!g || g === this.hovered) return;
      this.hovered = g;
      this.showTooltip(this.nodeData.get(g.dataset.name), event);
    });
    this.svg.addEventListener("pointermove", (event) => {
      if (this.hovered) this.moveTooltip(event);
    });
    this.svg.addEventListener("pointerout", (event) => {
      if (!this.hovered || (event.relatedTarget && this.hovered.contains(event.relatedTarget))) return;
      this.hovered = null;
      this.tooltip.hidden = true;
    });
  }

  // -- drawing ----------------------------------------------------------------------------------

  draw() {
    /** @type {DagPayload} */
    const graph = this.model.get("graph") || { nodes: [], edges: [], groups: [], modules: [] };
    this.graph = graph;
    const isEmpty = !graph.nodes || graph.nodes.length === 0;
    this.empty.hidden = !isEmpty;
    this.canvas.hidden = isEmpty;
    this.empty.textContent = isEmpty
      ? "No Hamilton nodes yet. Write functions in a %%hamilton NAME cell and run it: this view follows the workspace."
      : "";
    this.viewport.replaceChildren();
    this.nodeElements.clear();
    this.nodeData.clear();
    this.edgeElements = [];
    this.state.clear();
    this.hovered = null;
    this.tooltip.hidden = true;
    if (isEmpty) {
      this.drawLegend();
      this.upstream = new Set();
      this.updateStatus();
      return;
    }
    const groupsLayer = svgElement("g", { class: "kit-groups" });
    const edgesLayer = svgElement("g", { class: "kit-edges" });
    const nodesLayer = svgElement("g", { class: "kit-nodes" });
    for (const group of graph.groups) this.drawGroup(group, groupsLayer);
    const arrow = `url(#${this.markerId()})`;
    for (const edge of graph.edges) {
      const element = svgElement("path", { class: "kit-edge", d: edge.path, "marker-end": arrow }, edgesLayer);
      element.dataset.source = edge.source;
      element.dataset.target = edge.target;
      this.edgeElements.push({ source: edge.source, target: edge.target, element });
    }
    for (const node of graph.nodes) this.drawNode(node, nodesLayer);
    // Edges of the selection's upstream move up into their own layer; dimming the others is
    // then one style change on their layer, not one per edge.
    const upEdgesLayer = svgElement("g", { class: "kit-edges kit-up-edges" });
    this.viewport.append(groupsLayer, edgesLayer, upEdgesLayer, nodesLayer);
    this.layers = { edges: edgesLayer, upEdges: upEdgesLayer };
    this.drawLegend();
    this.highlight();
    this.colourTasks();
    this.applySearch();
    if (!this.viewed) {
      this.viewed = true;
      this.firstView = true;
      this.onResize(); // now if the canvas has a size, else when the ResizeObserver reports one
    }
  }

  /** @param {GroupBox} group */
  drawGroup(group, layer) {
    const g = svgElement("g", { class: `kit-group kit-group-${group.kind}` }, layer);
    g.dataset.group = group.name;
    g.style.setProperty("--kit-colour", group.color);
    svgElement("rect", { x: group.x, y: group.y, width: group.w, height: group.h, rx: 8 }, g);
    const label = svgElement("text", { x: group.x + 8, y: group.y + 14, class: "kit-group-label" }, g);
    if (!this.isStatic()) {
      label.textContent = `\u25be ${group.name}`;
      const title = svgElement("title", {}, label);
      title.textContent = `Collapse module ${group.name}`;
      label.classList.add("kit-toggle");
      label.dataset.group = group.name;
    } else {
      label.textContent = group.name;
    }
  }

  /** @param {DagNode} node */
  drawNode(node, layer) {
    const g = svgElement("g", {
      class: `kit-node kit-kind-${node.kind}`,
      transform: `translate(${node.x - node.w / 2},${node.y - node.h / 2})`,
      tabindex: "0",
    });
    g.dataset.name = node.id;
    g.style.setProperty("--kit-colour", node.color);
    svgElement("rect", { width: node.w, height: node.h, rx: node.kind === "input" || node.kind === "config" ? node.h / 2 : 6 }, g);
    const name = svgElement("text", { x: node.w / 2, y: node.h / 2 - 4, class: "kit-node-name" }, g);
    name.textContent = node.name;
    const sub = svgElement("text", { x: node.w / 2, y: node.h / 2 + 11, class: "kit-node-sub" }, g);
    sub.textContent = node.sub;
    if (node.variants && node.variants.length > 1) g.classList.add("kit-has-variants");
    if (node.changed) {
      g.classList.add("kit-changed");
      const badge = svgElement("circle", { cx: node.w - 6, cy: 6, r: 4.5, class: "kit-badge" }, g);
      const why = { code: "its code", interface: "its dependencies or type", added: "new" }[node.changed];
      svgElement("title", {}, badge).textContent = `changed since the last export: ${why}`;
    }
    if (node.pulled) {
      g.classList.add("kit-pulled");
      const mark = svgElement("circle", { cx: 6, cy: 6, r: 4.5, class: "kit-pulled-mark" }, g);
      svgElement("title", {}, mark).textContent = `pulled from ${this.graph.run}, task ${node.pulled}`;
    }
    layer.appendChild(g);
    this.nodeElements.set(node.id, g);
    this.nodeData.set(node.id, node);
  }

  drawLegend() {
    const legend = this.legend;
    legend.replaceChildren();
    const graph = this.graph;
    legend.hidden = !graph.modules || graph.modules.length === 0;
    if (legend.hidden) return;
    const modules = htmlElement("div", "kit-legend-section", legend);
    htmlElement("span", "kit-legend-title", modules, "Modules");
    for (const module of graph.modules) {
      const item = htmlElement("span", "kit-legend-item kit-legend-module", modules);
      item.dataset.module = module.name;
      const swatch = htmlElement("span", "kit-swatch", item);
      swatch.style.background = module.color;
      htmlElement("span", "", item, `${module.name} (${module.count})`);
      if (!this.isStatic()) {
        const toggle = htmlElement("button", "kit-collapse", item, module.collapsed ? "expand" : "collapse");
        toggle.dataset.module = module.name;
        toggle.dataset.collapse = String(!module.collapsed);
      }
      if (module.unchosen && module.unchosen.length) {
        item.title = module.unchosen
          .map((u) => `${u.node}: no implementation chosen by the config (${u.variants.map((v) => v.when).join("; ")})`)
          .join("\n");
      }
    }
    const kinds = htmlElement("div", "kit-legend-section", legend);
    htmlElement("span", "kit-legend-title", kinds, "Nodes");
    const keys = [
      ["kit-key-input", "external input"],
      ["kit-key-config", "from the config"],
      ["kit-key-variants", "@config.when: one of several"],
      ["kit-key-selected", "selected output"],
      ["kit-key-upstream", "will run"],
    ];
    if (graph.nodes.some((node) => node.changed)) keys.push(["kit-key-changed", "changed since the last export"]);
    if (graph.run) keys.push(["kit-key-pulled", `pulled: ${graph.run}`]);
    for (const [className, text] of keys) {
      const item = htmlElement("span", "kit-legend-item", kinds);
      htmlElement("span", `kit-key ${className}`, item);
      htmlElement("span", "", item, text);
    }
    const engine = htmlElement("span", "kit-legend-engine", kinds, `layout: ${graph.engine}`);
    if (graph.note) engine.title = graph.note;
    this.taskLegend = htmlElement("div", "kit-legend-section kit-legend-tasks", legend);
  }

  // -- selection and highlighting ---------------------------------------------------------------

  isStatic() {
    return Boolean(this.model.get("static"));
  }

  onNodeClick(node) {
    if (node.kind === "module") {
      if (!this.isStatic()) this.setCollapsed(node.name, false);
      return;
    }
    if (node.kind === "input" || node.kind === "config") return;
    const selected = this.model.get("selected") || [];
    const next = selected.includes(node.id) ? selected.filter((n) => n !== node.id) : [...selected, node.id];
    this.setSelected(next);
  }

  setSelected(names) {
    this.model.set("selected", [...names]);
    this.model.save_changes();
  }

  setCollapsed(name, collapse) {
    const current = this.model.get("collapsed") || [];
    const next = collapse ? [...current.filter((n) => n !== name), name] : current.filter((n) => n !== name);
    this.model.set("collapsed", next);
    this.model.save_changes();
  }

  highlight() {
    const graph = this.graph;
    if (!graph || !graph.nodes) return;
    const selected = (this.model.get("selected") || []).filter((name) => name in graph.deps);
    const upstream = upstreamOf(selected, graph.deps);
    const shownUpstream = new Set();
    for (const name of upstream) shownUpstream.add(graph.shown[name] || name);
    const shownSelected = new Set(selected.map((name) => graph.shown[name] || name));
    // Only what changed is touched, and no class on a common ancestor restyles every node.
    const dimming = selected.length > 0;
    for (const [id, element] of this.nodeElements) {
      const next = shownSelected.has(id) ? "selected" : shownUpstream.has(id) ? "upstream" : dimming ? "dim" : "";
      if ((this.state.get(id) || "") === next) continue;
      this.state.set(id, next);
      element.classList.toggle("kit-selected", next === "selected");
      element.classList.toggle("kit-upstream", next === "selected" || next === "upstream");
      element.classList.toggle("kit-dim", next === "dim");
    }
    for (const edge of this.edgeElements) {
      const on = shownUpstream.has(edge.source) && shownUpstream.has(edge.target);
      if (Boolean(edge.on) !== on) {
        edge.on = on;
        edge.element.classList.toggle("kit-upstream", on);
        (on ? this.layers.upEdges : this.layers.edges).appendChild(edge.element);
      }
    }
    this.layers.edges.classList.toggle("kit-dim", dimming);
    this.root.classList.toggle("kit-has-selection", dimming);
    this.upstream = upstream;
    this.updateStatus();
  }

  updateStatus() {
    const graph = this.graph;
    const upstream = this.upstream || new Set();
    const count = graph.nodes ? graph.nodes.length : 0;
    const selected = (this.model.get("selected") || []).length;
    let willRun = 0;
    for (const name of upstream) {
      const node = this.nodeData.get(name);
      if (!node || node.kind === "function") willRun += 1;
    }
    const parts = [`${count} node${count === 1 ? "" : "s"}`];
    if (selected) parts.push(`${selected} selected`, `${willRun} will run`);
    if (this.matches !== undefined && this.search.value) parts.push(`${this.matches} match${this.matches === 1 ? "" : "es"}`);
    this.status.textContent = parts.join(" \u00b7 ");
  }

  colourTasks() {
    const plan = this.model.get("plan") || {};
    const taskOf = plan.task_of || {};
    const colours = Object.fromEntries((plan.tasks || []).map((task) => [task.name, task.color]));
    const active = Object.keys(taskOf).length > 0;
    this.root.classList.toggle("kit-has-plan", active);
    for (const [id, element] of this.nodeElements) {
      const node = this.nodeData.get(id);
      const members = node.kind === "module" ? node.members : [id];
      const task = members.map((m) => taskOf[m]).find(Boolean);
      element.classList.toggle("kit-in-task", Boolean(task));
      if (task) {
        element.style.setProperty("--kit-task", colours[task]);
        element.dataset.task = task;
      } else {
        element.style.removeProperty("--kit-task");
        delete element.dataset.task;
      }
    }
    if (!this.taskLegend) return;
    this.taskLegend.replaceChildren();
    if (!active) return;
    htmlElement("span", "kit-legend-title", this.taskLegend, "Tasks");
    for (const task of plan.tasks) {
      const item = htmlElement("span", "kit-legend-item", this.taskLegend);
      const swatch = htmlElement("span", "kit-swatch kit-task-swatch", item);
      swatch.style.borderColor = task.color;
      htmlElement("span", "", item, task.name);
    }
  }

  showError() {
    const error = this.model.get("error") || "";
    this.errorBox.hidden = !error;
    this.errorBox.textContent = error ? `${error}\n(showing the last graph that built)` : "";
  }

  // -- search -------------------------------------------------------------------------------------

  applySearch() {
    const query = this.search.value.trim().toLowerCase();
    this.root.classList.toggle("kit-searching", query.length > 0);
    let matches = 0;
    for (const [id, element] of this.nodeElements) {
      const hit = query.length > 0 && id.toLowerCase().includes(query);
      if (hit) matches += 1;
      element.classList.toggle("kit-match", hit);
    }
    this.matches = matches;
    this.updateStatus();
  }

  centreOnFirstMatch() {
    const first = [...this.nodeElements.entries()].find(([, element]) => element.classList.contains("kit-match"));
    if (!first) return;
    const node = this.nodeData.get(first[0]);
    const { width, height } = this.canvasSize();
    const k = Math.max(this.transform.k, 1);
    this.moved = true;
    this.setTransform({ k, x: width / 2 - node.x * k, y: height / 2 - node.y * k });
  }

  // -- tooltip ------------------------------------------------------------------------------------

  /** @param {DagNode} node */
  showTooltip(node, event) {
    const tip = this.tooltip;
    tip.replaceChildren();
    htmlElement("div", "kit-tip-name", tip, node.kind === "module" ? `module ${node.name}` : node.id);
    const facts = [];
    if (node.kind === "module") facts.push(["nodes", node.members.join(", ")], ["", "click to expand"]);
    if (node.type) facts.push(["type", node.type]);
    if (node.module && node.kind !== "module") facts.push(["module", node.module]);
    if (node.kind === "input") facts.push(["", "external input: pass it to execute, or set it in the config"]);
    if (node.kind === "config") facts.push(["", node.sub]);
    if (node.source) facts.push(["defined in", node.source]);
    for (const [key, value] of Object.entries(node.tags || {})) facts.push([`tag ${key}`, String(value)]);
    for (const [key, value] of facts) {
      const row = htmlElement("div", "kit-tip-row", tip);
      if (key) htmlElement("span", "kit-tip-key", row, key);
      htmlElement("span", "", row, value);
    }
    if (node.variants && node.variants.length) {
      htmlElement("div", "kit-tip-key", tip, "implementations (the config chooses one)");
      for (const variant of node.variants) {
        const row = htmlElement("div", `kit-tip-variant${variant.chosen ? " kit-chosen" : ""}`, tip);
        row.textContent = `${variant.chosen ? "\u2713" : "\u2022"} ${variant.function}  ${variant.when}`;
      }
    }
    if (node.doc) htmlElement("div", "kit-tip-doc", tip, node.doc);
    tip.hidden = false;
    this.moveTooltip(event);
  }

  moveTooltip(event) {
    const bounds = this.canvas.getBoundingClientRect();
    const x = event.clientX - bounds.left + 14;
    const y = event.clientY - bounds.top + 14;
    const maxX = bounds.width - this.tooltip.offsetWidth - 4;
    this.tooltip.style.left = `${Math.max(4, Math.min(x, maxX))}px`;
    this.tooltip.style.top = `${y}px`;
  }

  // -- pan and zoom -------------------------------------------------------------------------------

  canvasSize() {
    const bounds = this.canvas.getBoundingClientRect();
    return { width: bounds.width || 800, height: bounds.height || 500 };
  }

  setTransform(transform) {
    this.transform = transform;
    this.viewport.setAttribute("transform", `translate(${transform.x},${transform.y}) scale(${transform.k})`);
  }

  /** The scale at which the whole graph fits a canvas of `width` x `height` (at most 1). */
  fitScale(width, height = Infinity) {
    const graph = this.graph;
    return Math.min(1, (width - 2 * VIEW_PAD) / graph.width, (height - 2 * VIEW_PAD) / graph.height);
  }

  fitTransform() {
    const { width, height } = this.canvasSize();
    const graph = this.graph;
    const k = this.fitScale(width, height);
    return { k, x: (width - graph.width * k) / 2, y: (height - graph.height * k) / 2 };
  }

  fit() {
    if (!this.graph || !this.graph.nodes || !this.graph.nodes.length) return;
    this.moved = true;
    this.setTransform(this.fitTransform());
  }

  /** A first view, and on a resize until the user pans or zooms: size the canvas, fit the view. */
  onResize() {
    const width = this.canvas.getBoundingClientRect().width;
    if (!width || !this.graph || !this.graph.nodes || !this.graph.nodes.length) return;
    const widthChanged = width !== this.lastWidth;
    this.lastWidth = width;
    if (this.firstView || (widthChanged && !this.moved)) this.sizeCanvas(width);
    if (this.firstView || !this.moved) this.initialView();
    this.firstView = false;
  }

  /** The canvas takes the height the graph needs at the first view's scale, within limits. */
  sizeCanvas(width) {
    if (this.isStatic()) return; // the standalone page gives the canvas the window
    const k = Math.max(READABLE_SCALE, this.fitScale(width));
    const needed = this.graph.height * k + 2 * VIEW_PAD;
    const limit = Math.max(MIN_CANVAS, window.innerHeight * MAX_CANVAS);
    this.canvas.style.height = `${Math.round(Math.min(limit, Math.max(MIN_CANVAS, needed)))}px`;
  }

  /** The nodes a first view that cannot show everything centres on: the selection and its
   * upstream, else the graph's sinks (what it computes). */
  focusNodes() {
    const graph = this.graph;
    const selected = (this.model.get("selected") || []).filter((name) => name in graph.deps);
    if (selected.length) {
      const shown = new Set([...upstreamOf(selected, graph.deps)].map((name) => graph.shown[name] || name));
      return graph.nodes.filter((node) => shown.has(node.id));
    }
    const sources = new Set(graph.edges.map((edge) => edge.source));
    const sinks = graph.nodes.filter((node) => !sources.has(node.id) && node.kind !== "input" && node.kind !== "config");
    return sinks.length ? sinks : graph.nodes;
  }

  /** Fit the whole graph if its names stay readable, else a readable scale centred on the focus. */
  initialView() {
    const fitted = this.fitTransform();
    if (fitted.k >= READABLE_SCALE) {
      this.setTransform(fitted);
      return;
    }
    const { width, height } = this.canvasSize();
    const k = READABLE_SCALE;
    const box = boundsOf(this.focusNodes());
    // Centred on the focus; a focus taller than the canvas shows its bottom (the outputs, what
    // feeds them above). Where the graph is larger than the canvas, no empty margin shows.
    const tall = (box.bottom - box.top) * k > height - 2 * VIEW_PAD;
    const x = width / 2 - ((box.left + box.right) / 2) * k;
    const y = tall ? height - VIEW_PAD - box.bottom * k : height / 2 - ((box.top + box.bottom) / 2) * k;
    this.setTransform({
      k,
      x: clampOffset(x, width, this.graph.width * k),
      y: clampOffset(y, height, this.graph.height * k),
    });
  }

  enablePanZoom() {
    let drag = null;
    this.svg.addEventListener("pointerdown", (event) => {
      if (event.button !== 0 || event.target.closest(".kit-node, .kit-toggle")) return;
      drag = { x: event.clientX, y: event.clientY, start: { ...this.transform } };
      this.svg.setPointerCapture(event.pointerId);
      this.svg.classList.add("kit-panning");
    });
    this.svg.addEventListener("pointermove", (event) => {
      if (!drag) return;
      this.moved = true;
      this.setTransform({ ...drag.start, x: drag.start.x + event.clientX - drag.x, y: drag.start.y + event.clientY - drag.y });
    });
    const end = () => {
      drag = null;
      this.svg.classList.remove("kit-panning");
    };
    this.svg.addEventListener("pointerup", end);
    this.svg.addEventListener("pointercancel", end);
    this.svg.addEventListener(
      "wheel",
      (event) => {
        event.preventDefault();
        const bounds = this.svg.getBoundingClientRect();
        const px = event.clientX - bounds.left;
        const py = event.clientY - bounds.top;
        const { x, y, k } = this.transform;
        const next = Math.min(MAX_SCALE, Math.max(MIN_SCALE, k * Math.exp(-event.deltaY * 0.0015)));
        this.moved = true;
        this.setTransform({ k: next, x: px - ((px - x) * next) / k, y: py - ((py - y) * next) / k });
      },
      { passive: false },
    );
  }
}

/** A model that lives in the page alone (the standalone HTML of `kit dag`): same API, no kernel. */
function localModel(state) {
  const values = { selected: [], collapsed: [], plan: {}, error: "", ...state };
  const listeners = new Map();
  return {
    get: (key) => values[key],
    set(key, value) {
      values[key] = value;
      for (const handler of listeners.get(`change:${key}`) || []) handler();
    },
    save_changes() {},
    on(event, handler) {
      if (!listeners.has(event)) listeners.set(event, []);
      listeners.get(event).push(handler);
    },
    off(event, handler) {
      listeners.set(event, (listeners.get(event) || []).filter((h) => h !== handler));
    },
  };
}

function render({ model, el }) {
  const view = new DagView(model, el);
  return () => view.destroy();
}

/** Draw `state` (a payload under `graph`) into `el` without a kernel; returns the model. */
export function standalone(el, state) {
  const model = localModel({ ...state, static: true });
  render({ model, el });
  return model;
}

export default { render };
