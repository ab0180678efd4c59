"""The workflow graph as a picture: a server-side SVG of a bundle's tasks and transitions.

A pure function over the bundle dict (docs/bundle-format.md): no database, no JavaScript, no
Graphviz. The layout is the classic layered one, left to right:

1. back edges (loops) are found by a depth-first walk from the start and set aside;
2. the rest is layered by longest path (the start is layer 0, each task sits one layer right of
   its furthest predecessor), transitions that skip layers get invisible waypoints;
3. crossings are reduced by barycenter sweeps (the order with the fewest crossings is kept);
4. each layer's boxes are placed as near to their neighbours' heights as their order allows;
5. forward transitions are smooth curves from the right side of a box to the left side of the
   next; back edges go round the outside of the drawing, above or below, so they never cross a box.

Invariants:
- Security: every text in the bundle is user input; it appears only as escaped character data
  (or an escaped attribute value), never in a tag, an id or a style. The SVG has no <script>,
  no style attribute and no <style> element, so a strict CSP allows it; colours are
  currentColor plus a few presentation attributes, so it reads in light and dark mode.
- Bounded: at most MAX_TASKS tasks and MAX_TRANSITIONS transitions are drawn (a note says so),
  and every text is shortened, so the output's size has a ceiling.
- Deterministic: no set or hash order anywhere; ties are broken by the bundle's order.
- Total: a bundle with problems (unknown task keys, no start, odd types) draws what it can,
  with a note for what it could not; it never raises.
"""

import itertools
import math
from dataclasses import dataclass, field
from html import escape
from typing import Any

MAX_TASKS = 200
MAX_TRANSITIONS = 400

KEY_CHARS = 16
CONDITION_CHARS = 30

BOX_WIDTH = 210.0
ROW_GAP = 28.0  # between boxes of one layer
WAYPOINT_GAP = 12.0  # between a waypoint and its neighbours
MARGIN = 16.0
CHANNEL_STEP = 16.0  # distance between back edges running round the drawing
LANE_STEP = 10.0  # distance between back edges' vertical runs in a gap
ARROW = 8.0
SANS = "Inter, ui-sans-serif, system-ui, -apple-system, 'Segoe UI', Roboto, Arial, sans-serif"
MONO = "ui-monospace, SFMono-Regular, Menlo, Consolas, 'Liberation Mono', monospace"
MONO_CHAR = 6.6  # width of one 11px monospace character
SWEEPS = 8
BIG = 3000  # nodes and waypoints: above this, two sweeps, so a pathological bundle stays fast

TYPE_BADGES: dict[str, tuple[str, str]] = {
    "FORM": ("form", "#2563eb"),
    "SYNC_ACTION": ("sync action", "#d97706"),
    "ASYNC_ACTION": ("async action", "#9333ea"),
    "CODE": ("code", "#0d9488"),
}


@dataclass
class _Node:
    kind: str  # "start", "task", "end" or "waypoint"
    width: float = 0.0
    height: float = 0.0
    pad_top: float = 0.0  # room above the box for a loop onto itself
    title: str = ""
    key: str = ""
    task_type: str = ""
    layer: int = 0
    y: float = 0.0  # top of the slot (pad_top included)
    x: float = 0.0
    preds: list[int] = field(default_factory=list)
    succs: list[int] = field(default_factory=list)

    @property
    def slot(self) -> float:
        return self.pad_top + self.height

    @property
    def top(self) -> float:
        return self.y + self.pad_top

    @property
    def middle(self) -> float:
        return self.top + self.height / 2


@dataclass
class _Edge:
    source: int
    target: int
    condition: str = ""
    priority: int = 0
    transition: bool = False  # not the line to an End marker
    labelled: bool = False  # a transition from a task (the start's needs no label)
    show_priority: bool = False
    back: bool = False
    chain: list[int] = field(default_factory=list)  # source, waypoints..., target
    out_y: float = 0.0
    in_y: float = 0.0

    @property
    def label(self) -> str:
        text = " ".join(self.condition.split())
        if not text:
            return "always"
        return text if len(text) <= CONDITION_CHARS else text[: CONDITION_CHARS - 1].rstrip() + "…"

    @property
    def label_width(self) -> float:
        if not self.labelled:
            return 0.0
        badge = len(str(self.priority)) * MONO_CHAR + 10 if self.show_priority else 0.0
        return badge + len(self.label) * MONO_CHAR


def workflow_graph_svg(bundle: Any) -> str:
    """The workflow of `bundle` as an SVG drawing (a string of markup, safe to embed as is)."""
    graph = _Graph(bundle)
    graph.layout()
    return graph.render()


class _Graph:
    def __init__(self, bundle: Any) -> None:
        workflow = bundle.get("workflow") if isinstance(bundle, dict) else None
        workflow = workflow if isinstance(workflow, dict) else {}
        self.title = _text(workflow.get("title"))
        self.notes: list[str] = []
        self.nodes: list[_Node] = []
        self.edges: list[_Edge] = []
        self.channels = {"top": 0, "bottom": 0}
        self.size = (0.0, 0.0)
        self._read(workflow)

    # --- reading the bundle ---------------------------------------------------------------

    def _read(self, workflow: dict[str, Any]) -> None:
        tasks = [task for task in _list(workflow.get("tasks")) if isinstance(task, dict)]
        transitions = [t for t in _list(workflow.get("transitions")) if isinstance(t, dict)]
        if len(tasks) > MAX_TASKS:
            self.notes.append(f"Showing the first {MAX_TASKS} of {len(tasks)} tasks.")
        if len(transitions) > MAX_TRANSITIONS:
            self.notes.append(f"Showing the first {MAX_TRANSITIONS} of {len(transitions)} transitions.")
        index: dict[str, int] = {}
        unnamed = 0
        for task in tasks[:MAX_TASKS]:
            key = _text(task.get("key"))
            if not key or key in index:
                unnamed += 1
                continue
            index[key] = len(self.nodes)
            self.nodes.append(
                _Node(
                    kind="task",
                    title=_text(task.get("title")) or key,
                    key=key,
                    task_type=_text(task.get("type")),
                    width=BOX_WIDTH,
                )
            )
        if unnamed:
            self.notes.append(f"Not drawn: {unnamed} task(s) without a key of their own.")

        start: int | None = None
        unknown = 0
        for transition in transitions[:MAX_TRANSITIONS]:
            source_key, target_key = transition.get("from"), _text(transition.get("to"))
            target = index.get(target_key)
            if source_key is None:
                if start is None and target is not None:
                    start = len(self.nodes)
                    self.nodes.append(_Node(kind="start", width=64.0, height=30.0))
                source: int | None = start
            else:
                source = index.get(_text(source_key))
            if source is None or target is None:
                unknown += 1
                continue
            priority = transition.get("priority", 0)
            self.edges.append(
                _Edge(
                    source=source,
                    target=target,
                    condition=_text(transition.get("condition")),
                    priority=priority if isinstance(priority, int) and not isinstance(priority, bool) else 0,
                    transition=True,
                    labelled=source != start,
                )
            )
        if unknown:
            self.notes.append(f"Not drawn: {unknown} transition(s) from or to an unknown task.")
        if start is None and self.nodes:
            self.notes.append("There is no start transition.")
        if not self.nodes:
            self.notes.append("No tasks yet.")

        # Outgoing transitions in the order the engine tries them; several get their priority shown.
        self.edges.sort(key=lambda edge: (edge.source, edge.priority))
        outgoing = [0] * len(self.nodes)
        for edge in self.edges:
            outgoing[edge.source] += 1
        for edge in self.edges:
            edge.show_priority = edge.labelled and outgoing[edge.source] > 1
        # An End marker after every task that nothing follows.
        for number, node in enumerate(list(self.nodes)):
            if node.kind == "task" and not outgoing[number]:
                self.edges.append(_Edge(source=number, target=len(self.nodes)))
                self.nodes.append(_Node(kind="end", width=52.0, height=26.0))
        # The start first: the walk that finds loops begins there.
        self.order = sorted(range(len(self.nodes)), key=lambda n: (self.nodes[n].kind != "start", n))

    # --- layout -----------------------------------------------------------------------------

    def layout(self) -> None:
        self._find_back_edges()
        self._assign_layers()
        self._add_waypoints()
        layers = self._order_layers()
        self._size_boxes()
        self._place_vertically(layers)
        self._place_horizontally(layers)

    def _find_back_edges(self) -> None:
        out: list[list[_Edge]] = [[] for _ in self.nodes]
        for edge in self.edges:
            out[edge.source].append(edge)
        state = [0] * len(self.nodes)  # 0 unseen, 1 on the path, 2 done
        for root in self.order:
            if state[root]:
                continue
            state[root] = 1
            stack: list[tuple[int, int]] = [(root, 0)]
            while stack:
                node, position = stack[-1]
                if position == len(out[node]):
                    state[node] = 2
                    stack.pop()
                    continue
                stack[-1] = (node, position + 1)
                edge = out[node][position]
                if state[edge.target] == 1:
                    edge.back = True
                elif state[edge.target] == 0:
                    state[edge.target] = 1
                    stack.append((edge.target, 0))

    def _assign_layers(self) -> None:
        forward = [edge for edge in self.edges if not edge.back]
        incoming = [0] * len(self.nodes)
        out: list[list[int]] = [[] for _ in self.nodes]
        for edge in forward:
            incoming[edge.target] += 1
            out[edge.source].append(edge.target)
        for item in self.nodes:
            item.layer = 0 if item.kind == "start" else 1
        ready = [n for n in self.order if not incoming[n]]
        while ready:  # Kahn's walk in a fixed order: each node one right of its furthest predecessor
            node = ready.pop(0)
            for target in out[node]:
                self.nodes[target].layer = max(self.nodes[target].layer, self.nodes[node].layer + 1)
                incoming[target] -= 1
                if not incoming[target]:
                    ready.append(target)
        used = sorted({item.layer for item in self.nodes})
        renumber = {layer: number for number, layer in enumerate(used)}
        for item in self.nodes:
            item.layer = renumber[item.layer]

    def _add_waypoints(self) -> None:
        for edge in self.edges:
            edge.chain = [edge.source]
            if not edge.back:
                for layer in range(self.nodes[edge.source].layer + 1, self.nodes[edge.target].layer):
                    self.nodes.append(_Node(kind="waypoint", layer=layer))
                    edge.chain.append(len(self.nodes) - 1)
            edge.chain.append(edge.target)
            if not edge.back:
                for left, right in itertools.pairwise(edge.chain):
                    self.nodes[left].succs.append(right)
                    self.nodes[right].preds.append(left)

    def _order_layers(self) -> list[list[int]]:
        count = max((node.layer for node in self.nodes), default=-1) + 1
        layers: list[list[int]] = [[] for _ in range(count)]
        seen = [False] * len(self.nodes)
        # First order: as a depth-first walk meets the nodes, which keeps branches together.
        for root in [*self.order, *range(len(self.nodes))]:
            stack = [root]
            while stack:
                node = stack.pop()
                if seen[node]:
                    continue
                seen[node] = True
                layers[self.nodes[node].layer].append(node)
                stack.extend(reversed(self.nodes[node].succs))
        best = [list(layer) for layer in layers]
        best_crossings = self._crossings(layers)
        for sweep in range(self._sweeps()):
            downward = sweep % 2 == 0
            sequence = range(1, count) if downward else range(count - 2, -1, -1)
            for number in sequence:
                neighbours = layers[number - 1] if downward else layers[number + 1]
                position = {node: i for i, node in enumerate(neighbours)}
                keyed = []
                for place, node in enumerate(layers[number]):
                    spots = [position[n] for n in self._linked(node, downward) if n in position]
                    keyed.append((sum(spots) / len(spots) if spots else -1.0, place, node))
                # Nodes without neighbours on that side keep their place; the others are sorted.
                movable = sorted((b, c, n) for b, c, n in keyed if b >= 0)
                slots = iter(movable)
                layers[number] = [n if b < 0 else next(slots)[2] for b, c, n in keyed]
            crossings = self._crossings(layers)
            if crossings < best_crossings:
                best, best_crossings = [list(layer) for layer in layers], crossings
        return best

    def _sweeps(self) -> int:
        return SWEEPS if len(self.nodes) <= BIG else 2

    def _linked(self, number: int, downward: bool | None) -> list[int]:
        """The node's neighbours in the layer before (downward), after (upward) or both (None)."""
        node = self.nodes[number]
        if downward is None:
            return node.preds + node.succs
        return node.preds if downward else node.succs

    def _crossings(self, layers: list[list[int]]) -> int:
        total = 0
        for upper, lower in itertools.pairwise(layers):
            position = {node: i for i, node in enumerate(lower)}
            ends = [
                position[s]
                for node in upper
                for s in sorted(self.nodes[node].succs, key=lambda s: position[s])
            ]
            total += _inversions(ends)
        return total

    def _size_boxes(self) -> None:
        ins = [0] * len(self.nodes)
        outs = [0] * len(self.nodes)
        for edge in self.edges:
            if edge.source == edge.target:
                self.nodes[edge.source].pad_top = 44.0 if edge.labelled else 30.0
                continue
            outs[edge.source] += 1
            ins[edge.target] += 1
        for number, node in enumerate(self.nodes):
            if node.kind == "task":
                lines = len(_wrap(node.title))
                ports = max(ins[number], outs[number])
                node.height = max(46.0 + 17.0 * lines, 20.0 * (ports + 1))

    def _place_vertically(self, layers: list[list[int]]) -> None:
        for layer in layers:
            top = 0.0
            for number in layer:
                self.nodes[number].y = top
                top += self.nodes[number].slot + ROW_GAP
        for sweep in range(self._sweeps()):
            downward = sweep % 2 == 0
            for layer in layers if downward else reversed(layers):
                self._pack(layer, downward)
        for layer in layers:  # a last pass towards both sides settles branches between their ends
            self._pack(layer, None)
        top = min((node.y for node in self.nodes), default=0.0)
        for node in self.nodes:
            node.y -= top

    def _pack(self, layer: list[int], downward: bool | None) -> None:
        """Move the layer's nodes towards their neighbours' middles, keeping order and gaps.

        Isotonic regression (pool adjacent violators) on the offsets from the tightest
        packing: the least-squares placement that keeps every gap.
        """
        if not layer:
            return
        offsets: list[float] = []
        offset = 0.0
        for i, number in enumerate(layer):
            node = self.nodes[number]
            if i:
                before = self.nodes[layer[i - 1]]
                gap = WAYPOINT_GAP if "waypoint" in (before.kind, node.kind) else ROW_GAP
                offset += before.slot + gap
            offsets.append(offset)
        wanted: list[float] = []
        for number in layer:
            node = self.nodes[number]
            middles = [self.nodes[n].middle for n in self._linked(number, downward)]
            middle = sum(middles) / len(middles) if middles else node.middle
            wanted.append(middle - node.pad_top - node.height / 2)
        blocks: list[list[float]] = []  # [sum, count] of pooled targets
        for target, offset in zip(wanted, offsets, strict=True):
            blocks.append([target - offset, 1.0])
            while len(blocks) > 1 and blocks[-2][0] / blocks[-2][1] > blocks[-1][0] / blocks[-1][1]:
                total, count = blocks.pop()
                blocks[-1][0] += total
                blocks[-1][1] += count
        values = [total / count for total, count in blocks for _ in range(int(count))]
        for number, value, offset in zip(layer, values, offsets, strict=True):
            self.nodes[number].y = value + offset

    def _place_horizontally(self, layers: list[list[int]]) -> None:
        count = len(layers)
        widths = [max((self.nodes[n].width for n in layer), default=0.0) for layer in layers]
        stubs = [0.0] * (count + 1)  # widest label leaving into gap g (the gap before layer g)
        lanes_out = [0] * (count + 1)
        lanes_in = [0] * (count + 1)
        self.lane_of: dict[int, tuple[int, int]] = {}
        for number, edge in enumerate(self.edges):
            source, target = self.nodes[edge.source], self.nodes[edge.target]
            if edge.source == edge.target:
                continue
            stubs[source.layer + 1] = max(stubs[source.layer + 1], edge.label_width)
            if edge.back:
                self.lane_of[number] = (lanes_out[source.layer + 1], lanes_in[target.layer])
                lanes_out[source.layer + 1] += 1
                lanes_in[target.layer] += 1
        self.gap_stub = stubs
        self.gaps: list[float] = []
        for g in range(count + 1):
            lanes = lanes_out[g] + lanes_in[g]
            gap = (stubs[g] + 16.0 if stubs[g] else 0.0) + (LANE_STEP * lanes + 18.0 if lanes else 0.0)
            self.gaps.append(gap + (56.0 if 0 < g < count else 0.0))  # room for curves between columns
        self.columns: list[tuple[float, float]] = []
        left = MARGIN
        for number, layer in enumerate(layers):
            left += self.gaps[number]
            self.columns.append((left, widths[number]))
            for node_number in layer:
                node = self.nodes[node_number]
                node.x = left + (widths[number] - node.width) / 2
            left += widths[number]
        right = left + self.gaps[count] + MARGIN

        # Back edges go round above or below, whichever side is nearer; inner loops nearer.
        height = max((node.y + node.slot for node in self.nodes), default=0.0)
        self.side: dict[int, str] = {}
        back = [n for n, e in enumerate(self.edges) if e.back and e.source != e.target]
        back.sort(
            key=lambda n: self.nodes[self.edges[n].source].layer - self.nodes[self.edges[n].target].layer
        )
        for number in back:
            edge = self.edges[number]
            middle = (self.nodes[edge.source].middle + self.nodes[edge.target].middle) / 2
            side = "top" if middle <= height / 2 else "bottom"
            self.side[number] = side
            self.channels[side] += 1
        self.channel_index: dict[int, int] = {}
        seen = {"top": 0, "bottom": 0}
        for number in back:
            side = self.side[number]
            self.channel_index[number] = seen[side]
            seen[side] += 1
        notes = 18.0 * len(self.notes) + (6.0 if self.notes else 0.0)
        shift = MARGIN + notes + CHANNEL_STEP * self.channels["top"]
        for node in self.nodes:
            node.y += shift
        self.body = (shift, shift + height)
        self.size = (max(right, 320.0), shift + height + CHANNEL_STEP * self.channels["bottom"] + MARGIN)
        self._assign_ports()

    def _assign_ports(self) -> None:
        """Spread each box's transitions along its sides, sorted by where they go, so they don't cross."""
        outs: list[list[tuple[float, int]]] = [[] for _ in self.nodes]
        ins: list[list[tuple[float, int]]] = [[] for _ in self.nodes]
        for number, edge in enumerate(self.edges):
            if edge.source == edge.target:
                continue
            if edge.back:
                toward = -math.inf if self.side[number] == "top" else math.inf
                outs[edge.source].append((toward, number))
                ins[edge.target].append((toward, number))
            else:
                outs[edge.source].append((self.nodes[edge.chain[1]].middle, number))
                ins[edge.target].append((self.nodes[edge.chain[-2]].middle, number))
        for number, node in enumerate(self.nodes):
            for ends, attribute in ((outs[number], "out_y"), (ins[number], "in_y")):
                ends.sort()
                for position, (_where, edge_number) in enumerate(ends):
                    y = (
                        node.middle
                        if node.kind != "task"
                        else node.top + node.height * (position + 1) / (len(ends) + 1)
                    )
                    setattr(self.edges[edge_number], attribute, y)

    # --- drawing ------------------------------------------------------------------------------

    def render(self) -> str:
        width, height = self.size
        title = f"Workflow: {self.title}" if self.title else "Workflow"
        parts = [
            f'<svg xmlns="http://www.w3.org/2000/svg" class="tf-graph" role="img" '
            f'aria-label="{_attr(title)}" width="{_n(width)}" height="{_n(height)}" '
            f'viewBox="0 0 {_n(width)} {_n(height)}" font-family="{SANS}" font-size="13" '
            f'fill="currentColor">'
        ]
        for line, note in enumerate(self.notes):
            parts.append(
                f'<text class="tf-note" x="{_n(MARGIN)}" y="{_n(MARGIN + 12 + 18 * line)}" '
                f'font-size="12" font-style="italic">{_esc(note)}</text>'
            )
        parts.append('<g class="tf-edges" fill="none" stroke="currentColor" stroke-opacity="0.55">')
        for number, edge in enumerate(self.edges):
            parts.append(self._edge(number, edge))
        parts.append("</g>")
        for node in self.nodes:
            parts.append(self._node(node))
        parts.append("</svg>")
        return "".join(parts)

    def _edge(self, number: int, edge: _Edge) -> str:
        source, target = self.nodes[edge.source], self.nodes[edge.target]
        label_at = (source.x + source.width + 6, edge.out_y - 5)
        classes = "tf-edge tf-transition" if edge.transition else "tf-edge tf-end-line"
        if edge.source == edge.target:
            classes += " tf-edge-loop"
            right = source.x + source.width - 24
            left = right - 44
            top = source.top
            path = (
                f"M{_n(right)},{_n(top)} C{_n(right)},{_n(top - 30)} "
                f"{_n(left)},{_n(top - 30)} {_n(left)},{_n(top - ARROW)}"
            )
            head = _arrow(left, top, "down")
            label_at = (right + 6, top - 20)
        elif edge.back:
            classes += " tf-edge-back"
            path, head = self._back_path(number, edge, source, target)
        else:
            path = self._forward_path(edge, source, target)
            head = _arrow(target.x, edge.in_y, "right")
        ends = f' data-from="{_attr(source.key)}" data-to="{_attr(target.key)}"' if edge.transition else ""
        parts = [f'<g class="{classes}"{ends}>']
        if edge.labelled:
            parts.append(f"<title>{_esc(_tooltip(edge))}</title>")
        parts.append(f'<path d="{path}" stroke-width="1.5"/>')
        parts.append(f'<path d="{head}" fill="currentColor" fill-opacity="0.7" stroke="none"/>')
        if edge.labelled:
            parts.append(_label(edge, *label_at))
        parts.append("</g>")
        return "".join(parts)

    def _forward_path(self, edge: _Edge, source: _Node, target: _Node) -> str:
        x, y = source.x + source.width, edge.out_y
        points: list[tuple[float, float]] = [(x, y)]
        stub = self.gap_stub[source.layer + 1]
        if stub:  # a straight start under the label
            points.append((x + stub + 16.0, y))
        for waypoint in edge.chain[1:-1]:
            node = self.nodes[waypoint]
            left, width = self.columns[node.layer]
            points += [(left, node.middle), (left + width, node.middle)]
        points.append((target.x - ARROW, edge.in_y))
        # A long straight run through several waypoints is one line.
        points = [
            point
            for i, point in enumerate(points)
            if i in (0, len(points) - 1) or not (points[i - 1][1] == point[1] == points[i + 1][1])
        ]
        commands = [f"M{_n(points[0][0])},{_n(points[0][1])}"]
        for (x1, y1), (x2, y2) in itertools.pairwise(points):
            if abs(y2 - y1) < 0.5:
                commands.append(f"L{_n(x2)},{_n(y2)}")
            else:
                bend = (x2 - x1) / 2
                commands.append(f"C{_n(x1 + bend)},{_n(y1)} {_n(x2 - bend)},{_n(y2)} {_n(x2)},{_n(y2)}")
        return " ".join(commands)

    def _back_path(self, number: int, edge: _Edge, source: _Node, target: _Node) -> tuple[str, str]:
        lane_out, lane_in = self.lane_of[number]
        gap_start = self.columns[source.layer][0] + self.columns[source.layer][1]
        stub = self.gap_stub[source.layer + 1]
        x_out = gap_start + (stub + 16.0 if stub else 0.0) + 14.0 + LANE_STEP * lane_out
        x_in = self.columns[target.layer][0] - 14.0 - LANE_STEP * lane_in
        step = CHANNEL_STEP * (self.channel_index[number] + 1)
        channel = self.body[0] - step if self.side[number] == "top" else self.body[1] + step
        corners = [
            (source.x + source.width, edge.out_y),
            (x_out, edge.out_y),
            (x_out, channel),
            (x_in, channel),
            (x_in, edge.in_y),
            (target.x - ARROW, edge.in_y),
        ]
        return _rounded(corners), _arrow(target.x, edge.in_y, "right")

    def _node(self, node: _Node) -> str:
        x, y, w, h = node.x, node.top, node.width, node.height
        if node.kind == "waypoint":
            return ""
        if node.kind == "start":
            return (
                f'<g class="tf-start"><rect x="{_n(x)}" y="{_n(y)}" width="{_n(w)}" height="{_n(h)}" '
                f'rx="{_n(h / 2)}" fill="#16a34a" fill-opacity="0.15" stroke="#16a34a" stroke-width="1.5"/>'
                f'<text x="{_n(x + w / 2)}" y="{_n(y + h / 2 + 4.5)}" text-anchor="middle" '
                f'font-weight="600">Start</text></g>'
            )
        if node.kind == "end":
            return (
                f'<g class="tf-end"><rect x="{_n(x)}" y="{_n(y)}" width="{_n(w)}" height="{_n(h)}" '
                f'rx="{_n(h / 2)}" fill="currentColor" fill-opacity="0.08" stroke="currentColor" '
                f'stroke-opacity="0.5" stroke-width="1.5"/>'
                f'<text x="{_n(x + w / 2)}" y="{_n(y + h / 2 + 4)}" text-anchor="middle" font-size="12" '
                f'fill-opacity="0.8">End</text></g>'
            )
        badge, colour = TYPE_BADGES.get(
            node.task_type, (_short(node.task_type.lower(), 12) or "?", "#6b7280")
        )
        lines = _wrap(node.title)
        parts = [
            f'<g class="tf-task" data-key="{_attr(node.key)}">',
            f"<title>{_esc(node.title)} ({_esc(node.key)}, {_esc(badge)})</title>",
            f'<rect x="{_n(x)}" y="{_n(y)}" width="{_n(w)}" height="{_n(h)}" rx="8" fill="currentColor" '
            f'fill-opacity="0.04" stroke="currentColor" stroke-opacity="0.4" stroke-width="1.25"/>',
        ]
        for number, line in enumerate(lines):
            parts.append(
                f'<text x="{_n(x + 12)}" y="{_n(y + 22 + 17 * number)}" font-weight="600">{_esc(line)}</text>'
            )
        badge_width = len(badge) * 6.2 + 14
        bottom = y + h - 12
        parts.append(
            f'<text x="{_n(x + 12)}" y="{_n(bottom)}" font-family="{MONO}" font-size="11" '
            f'fill-opacity="0.7">{_esc(_short(node.key, KEY_CHARS))}</text>'
        )
        parts.append(
            f'<rect x="{_n(x + w - 10 - badge_width)}" y="{_n(bottom - 12)}" width="{_n(badge_width)}" '
            f'height="17" rx="8.5" fill="{colour}" fill-opacity="0.16" stroke="{colour}" '
            f'stroke-opacity="0.6"/>'
        )
        parts.append(
            f'<text x="{_n(x + w - 10 - badge_width / 2)}" y="{_n(bottom)}" text-anchor="middle" '
            f'font-size="10.5">{_esc(badge)}</text>'
        )
        parts.append("</g>")
        return "".join(parts)


# --- helpers ----------------------------------------------------------------------------------


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _text(value: Any) -> str:
    if value is None or isinstance(value, (dict, list)):
        return ""
    # Characters XML forbids would make the whole SVG unreadable; drop them.
    return "".join(c for c in str(value) if c in "\t\n\r" or (ord(c) >= 0x20 and c not in "\ufffe\uffff"))


def _esc(text: str) -> str:
    return escape(text, quote=False)


def _attr(text: str) -> str:
    return escape(text, quote=True)


def _n(value: float) -> str:
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def _short(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _title_width(text: str) -> float:
    """A generous estimate of the width of a 13px semibold title (measured on DejaVu Sans, a wide font)."""
    width = 0.0
    for char in text:
        if char in "fijlrtI!|/\\.,:;'()[]- ":
            width += 5.2
        elif char in "mwMW@%&<>=…":
            width += 13.0
        elif char.isupper() or not char.isascii():
            width += 10.4
        else:
            width += 9.0
    return width


def _fit(text: str, room: float) -> str:
    """The longest start of `text` that fits in `room`, with an ellipsis when cut."""
    if _title_width(text) <= room:
        return text
    while text and _title_width(text + "…") > room:
        text = text[:-1]
    return text.rstrip() + "…"


def _wrap(title: str) -> list[str]:
    """At most two lines that fit the box, by words; what doesn't fit ends in an ellipsis."""
    room = BOX_WIDTH - 24
    words = " ".join(title.split()).split(" ")
    first = ""
    while words and _title_width(f"{first} {words[0]}".strip()) <= room:
        first = f"{first} {words.pop(0)}".strip()
    if not first and words:  # one very long word: cut it
        first = _fit(words[0], room)[:-1]
        words[0] = words[0][len(first) :]
    rest = " ".join(words).strip()
    return [first, _fit(rest, room)] if rest else [first]


def _tooltip(edge: _Edge) -> str:
    condition = " ".join(edge.condition.split())
    text = f"Condition: {condition}" if condition else "Always (no condition)"
    return f"{text}\nPriority: {edge.priority}" if edge.show_priority else text


def _label(edge: _Edge, x: float, y: float) -> str:
    parts = []
    if edge.show_priority:
        digits = str(edge.priority)
        badge = len(digits) * MONO_CHAR + 6
        parts.append(
            f'<rect x="{_n(x)}" y="{_n(y - 10)}" width="{_n(badge)}" height="13" rx="3" '
            f'fill="currentColor" fill-opacity="0.12" stroke="none"/>'
            f'<text x="{_n(x + badge / 2)}" y="{_n(y)}" text-anchor="middle" font-family="{MONO}" '
            f'font-size="10" stroke="none" fill="currentColor">{_esc(digits)}</text>'
        )
        x += badge + 4
    style = ' font-style="italic"' if not edge.condition.strip() else ""
    parts.append(
        f'<text x="{_n(x)}" y="{_n(y)}" font-family="{MONO}" font-size="11" stroke="none" '
        f'fill="currentColor" fill-opacity="0.85"{style}>{_esc(edge.label)}</text>'
    )
    return "".join(parts)


def _arrow(x: float, y: float, direction: str) -> str:
    if direction == "down":
        return f"M{_n(x - 4)},{_n(y - ARROW)} L{_n(x + 4)},{_n(y - ARROW)} L{_n(x)},{_n(y)} Z"
    return f"M{_n(x - ARROW)},{_n(y - 4)} L{_n(x - ARROW)},{_n(y + 4)} L{_n(x)},{_n(y)} Z"


def _rounded(corners: list[tuple[float, float]], radius: float = 10.0) -> str:
    """A path through axis-parallel corners, each corner rounded."""
    commands = [f"M{_n(corners[0][0])},{_n(corners[0][1])}"]
    for (x0, y0), (x1, y1), (x2, y2) in zip(corners, corners[1:], corners[2:], strict=False):
        before = min(radius, math.hypot(x1 - x0, y1 - y0) / 2)
        after = min(radius, math.hypot(x2 - x1, y2 - y1) / 2)
        ax, ay = _toward(x1, y1, x0, y0, before)
        bx, by = _toward(x1, y1, x2, y2, after)
        commands.append(f"L{_n(ax)},{_n(ay)} Q{_n(x1)},{_n(y1)} {_n(bx)},{_n(by)}")
    commands.append(f"L{_n(corners[-1][0])},{_n(corners[-1][1])}")
    return " ".join(commands)


def _toward(x: float, y: float, x2: float, y2: float, distance: float) -> tuple[float, float]:
    length = math.hypot(x2 - x, y2 - y)
    if not length:
        return x, y
    return x + (x2 - x) * distance / length, y + (y2 - y) * distance / length


def _inversions(values: list[int]) -> int:
    """Pairs out of order (the crossings between two layers), by merge sort."""
    if len(values) < 2:
        return 0
    middle = len(values) // 2
    left, right = values[:middle], values[middle:]
    count = _inversions(left) + _inversions(right)
    left.sort()
    right.sort()
    i = 0
    for value in right:
        while i < len(left) and left[i] <= value:
            i += 1
        count += len(left) - i
    return count
