"""The outline generator: a plain-text description of a process becomes a bundle. No AI.

A small-business owner writes what they already know, the way they would tell a new
colleague: a title, a sentence about it, what the form asks for, and the steps:

    Laundry pickup
    Customers ask us to pick up their laundry. Only staff can request this.

    The form asks for:
    - Address
    - How many bags
    - Pickup date
    - Service: one of wash and fold, dry cleaning
    - Photo of stains (optional)

    Steps:
    1. Driver picks up the laundry and records the weight in kg.
    2. Washer washes it and records damaged items (yes/no).
       If damaged items is yes, go to step 3, otherwise go to step 4.
    3. Manager calls the customer and records the outcome.
    4. Call https://example.com/invoice to send the invoice.

It is read forgivingly (case, punctuation, bullets or numbers, synonyms); what cannot be
placed becomes a question in the reply, never a silent guess. Later messages revise the
outline ("make the photo optional", "add a manager approval when the amount is over 500"):
the generator re-reads the conversation from the outline on, so it keeps no state of its own.
`docs/assistant.md` lists everything it understands.
"""

import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from ticketflower.assistant.generators.base import (
    Check,
    OnText,
    Proposal,
    ProposalRequest,
    Usage,
)
from ticketflower.assistant.layouts import task_layouts, ticket_layouts
from ticketflower.definitions.fields import identifier, value_schema

# --- the outline as read ------------------------------------------------------------------------

END = -1  # a branch's target: the workflow ends


@dataclass
class OField:
    name: str
    label: str
    type: str = "text"
    required: bool = True
    options: list[str] = field(default_factory=list)
    help_text: str = ""


@dataclass
class Branch:
    condition: str  # CEL; "" = otherwise
    readable: str  # the condition as the person wrote it ("amount is more than 500")
    target: int  # a step's id, or END
    priority: int | None = None  # as a saved workflow had it


@dataclass
class Step:
    id: int
    text: str
    kind: str = "FORM"  # FORM, SYNC_ACTION, ASYNC_ACTION, CODE
    role: str = ""
    title: str = ""
    records: list[str] = field(default_factory=list)  # field names the step writes
    url: str = ""
    timeout: int = 0
    code: str = ""  # a CODE step's source, from a saved workflow (outlines a person writes have none)
    pool: bool = False
    branches: list[Branch] = field(default_factory=list)
    ends: bool = False  # "… and the ticket is closed": no next step
    # From a saved workflow (outline_from_bundle), kept as they were: its key, what it reads,
    # what it must record, and its transitions exactly (no "otherwise" added).
    key: str = ""
    inputs: list[str] | None = None
    must_record: list[str] | None = None
    exact: bool = False


@dataclass
class Outline:
    title: str = ""
    description: str = ""
    submit_roles: list[str] = field(default_factory=list)
    fields: list[OField] = field(default_factory=list)  # what the form asks, then what steps record
    asked: list[str] = field(default_factory=list)  # names of the fields the ticket form asks
    steps: list[Step] = field(default_factory=list)
    questions: list[str] = field(default_factory=list)
    # From a saved workflow: its ticket type as it was (title, description, field entries with
    # presets); None for an outline a person wrote.
    ticket_type: dict[str, Any] | None = None

    def field_named(self, name: str) -> OField | None:
        return next((f for f in self.fields if f.name == name), None)


# --- words ------------------------------------------------------------------------------------

_BULLET = re.compile(r"^\s*(?:[-*•·+]|\(?(\d{1,3})[.)]|\(?[a-z][.)](?=\s))\s*")
_HEADING = re.compile(r"^\s*#{1,6}\s*")
_URL = re.compile(r"https?://[^\s<>\"')\]]+")

_FIELD_HEADINGS = (
    "field", "fields", "form", "the form asks for", "form asks for", "the form", "information",
    "details", "what we need", "we need", "we need to know", "ask for", "questions", "inputs",
    "the request has", "request form", "data", "info",
)  # fmt: skip
_STEP_HEADINGS = (
    "steps", "step", "process", "the process", "workflow", "how it works", "what happens",
    "then", "procedure", "stages", "tasks", "what happens next", "after that",
)  # fmt: skip

_STOP = {
    "the", "a", "an", "of", "our", "their", "its", "his", "her", "your", "my", "is", "are", "was",
    "be", "to", "for", "in", "on", "at", "by", "it", "this", "that", "these", "those", "and", "or",
    "any", "some", "there", "were", "has", "have", "with",
}  # fmt: skip

# Word → field type, the first match wins (checked on the label and its hints).
_TYPE_WORDS: list[tuple[str, tuple[str, ...]]] = [
    ("file", ("photo", "photos", "picture", "pictures", "image", "images", "attachment", "file",
              "document", "scan", "upload", "receipt", "pdf", "screenshot")),
    ("email", ("email", "e-mail", "mail address")),
    ("url", ("website", "url", "link", "web address")),
    ("boolean", ("yes/no", "y/n", "yes or no", "true/false", "whether", "checkbox", "tick")),
    ("datetime", ("date and time", "datetime", "date/time", "time and date", "appointment time")),
    ("date", ("date", "day", "deadline", "due", "birthday", "when")),
    ("integer", ("how many", "number of", "count", "quantity", "qty", "bags", "items", "pieces",
                 "people", "guests", "nights", "whole number")),
    ("number", ("amount", "price", "cost", "total", "weight", "kg", "hours", "budget", "sum",
                "fee", "euro", "eur", "usd", "$", "€", "£", "rate", "percentage", "%", "number",
                "mileage", "km", "length", "height", "width", "size in")),
    ("long_text", ("notes", "note", "description", "describe", "comments", "comment", "details",
                   "explain", "explanation", "remarks", "message", "reason", "feedback",
                   "instructions", "outcome", "findings", "problem", "steps", "reply", "answer",
                   "went wrong")),
]  # fmt: skip
_OPTIONAL_BY_DEFAULT = {"long_text", "file"}  # in outlines written back, these say "required" when so
# Fields a form need not insist on unless the outline says so: files, and notes of any kind.
_OPTIONAL_LABEL = re.compile(
    r"\b(notes?|comments?|remarks?|anything else|additional|extra information)\b", re.I
)
# Names, not amounts: "order number", "cost centre", "serial no", "booking reference".
_IDENTIFIER_LABEL = re.compile(r"\b(number|no|code|id|reference|ref|centre|center)\s*$", re.I)
_BOOLEAN_START = re.compile(r"^(is|are|was|does|do|did|has|have|can|should|will|any)\b", re.I)

# Subject words that name nobody in particular.
_NOBODY = {"someone", "somebody", "anyone", "anybody", "we", "i", "they", "you", "staff member",
           "team", "person", "the team", "us", "it", "he", "she", "then", "next", "after", "finally",
           "first", "afterwards", "later", "ticket", "request", "the request", "system"}  # fmt: skip
_RECORD = re.compile(
    r"\b(?:and\s+)?(?:records?|notes? down|notes|enters?|fills? in|writes? down|logs?|adds?|"
    r"uploads?|takes?|captures?|sets?|chooses?|selects?|decides?|gives?|provides?)\s+"
    r"(?P<what>.+)$",
    re.I,
)
_ACTION_RECORD = re.compile(r"\b(?:and\s+)?(?:records?|saves?|stores?|keeps?)\s+(?P<what>.+)$", re.I)
_APPROVE = re.compile(r"\b(approves?|signs? off|authori[sz]es?|okays?|accepts? or rejects?)\b", re.I)
_WAIT = re.compile(r"^\s*(?:then\s+)?wait(?:s|ing)?\s+(?:for|until)\s+(?P<who>.+?)$", re.I)
_CALL = re.compile(
    r"\b(?:call|calls|post|posts|send|sends|notify|notifies|push|pushes|sync|syncs|forward|forwards)"
    r"\b.*?(?P<url>https?://\S+|\bour\s+(?:system|api|server|software|shop|crm|erp)\b|"
    r"\bthe\s+(?:system|api|crm|erp|webhook)\b)",
    re.I,
)
_GOTO = re.compile(r"\b(?:go(?:es)?\s+(?:back\s+)?to|continue\s+(?:with|at)|back\s+to|jump\s+to)?\s*"
                   r"step\s+(?P<n>\d{1,3})\b", re.I)  # fmt: skip
_END = re.compile(
    r"\b(?:the\s+)?(?:ticket|request|workflow|process|it)\s+(?:is\s+)?(?:closed|done|finished|ends?|"
    r"complete[d]?)\b|\b(?:stop|end|finish)\b(?!\s+(?:date|time))",
    re.I,
)
_IF = re.compile(r"\b(?:if|when|in case|should) (?P<cond>[^,]+?)(?:, ?| )(?:then )?(?P<then>go(?:es)?\s+"
                 r"(?:back\s+)?to\s+step\s+\d+|step\s+\d+|(?:the\s+)?(?:ticket|request|workflow|"
                 r"process)\s+(?:is\s+)?(?:closed|done|finished|ends?)|stop|end|finish)"
                 r"(?P<rest>.*)$", re.I)  # fmt: skip
_OTHERWISE = re.compile(r"\b(?:otherwise|else|if not|or else)\b\s*,?\s*(?P<then>.*)$", re.I)
_REPEAT = re.compile(
    r"\brepeat(?:\s+(?:from\s+)?steps?\s+(?P<from>\d{1,3})(?:\s*(?:-|\u2013|to)\s*\d{1,3})?)?\s+"
    r"(?:until|till|as long as not)\s+(?P<cond>.+?)\.?$",
    re.I,
)
_WHO_SUBMITS = re.compile(
    r"\bonly\s+(?P<roles>[\w ,/&-]+?)\s+(?:can|may|are allowed to|is allowed to|should)\s+"
    r"(?:request|submit|ask for|create|open|file|send|use)\b",
    re.I,
)
_ANYONE_SUBMITS = re.compile(
    r"\b(?:anyone|everyone|everybody|all staff)\s+(?:can|may)\s+(?:request|submit)", re.I
)


def _words(text: str) -> list[str]:
    return [w for w in re.findall(r"[a-z0-9]+", text.lower()) if w not in _STOP]


def _clean(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().strip(".;:").strip()


def _sentence(text: str) -> str:
    text = _clean(text)
    return text[:1].upper() + text[1:] if text else text


def _label(text: str) -> str:
    text = _clean(re.sub(r"^(?:the|a|an|their|his|her|its|our)\s+", "", _clean(text), flags=re.I))
    return text[:1].upper() + text[1:]


# --- reading ----------------------------------------------------------------------------------


@dataclass
class _Line:
    text: str
    number: int | None  # "3." → 3
    bullet: bool


# What is read of an outline: the regular expressions below stay linear only on short lines of
# single spaces, and nobody's form or process needs more.
MAX_OUTLINE_CHARS = 30_000
MAX_LINE_CHARS = 500
MAX_LINES = 400


def _lines(text: str) -> list[_Line]:
    out: list[_Line] = []
    for raw in text[:MAX_OUTLINE_CHARS].replace("\r\n", "\n").split("\n")[:MAX_LINES]:
        indent = "  " if raw.startswith(("  ", "\t")) else ""
        raw = indent + re.sub(r"\s+", " ", raw).strip()[:MAX_LINE_CHARS]
        if not raw.strip():
            out.append(_Line("", None, False))
            continue
        line = _HEADING.sub("", raw).replace("**", "").replace("__", "")
        match = _BULLET.match(line)
        if match and match.end() < len(line):
            number = int(match.group(1)) if match.group(1) else None
            out.append(_Line(line[match.end() :].strip(), number, True))
        elif raw.startswith(("  ", "\t")) and out and out[-1].bullet:
            out[-1] = _Line(out[-1].text + " " + line.strip(), out[-1].number, True)  # continued item
        else:
            out.append(_Line(line.strip(), None, False))
    return out


def _heading_kind(text: str) -> str:
    """'fields', 'steps' or '' for a line that introduces a list."""
    words = _clean(text.lower().rstrip(":"))
    if not (text.rstrip().endswith(":") or len(words.split()) <= 4):
        return ""
    for kind, names in (("steps", _STEP_HEADINGS), ("fields", _FIELD_HEADINGS)):
        if words in names or any(words.startswith(n + " ") or words.endswith(" " + n) for n in names):
            return kind
    if text.rstrip().endswith(":") and re.search(r"\b(ask|need|fill|enter|provide|form)\b", words):
        return "fields"
    return ""


def looks_like_outline(text: str) -> bool:
    """Several lines with a list in them: an outline, not a one-line request for a change."""
    lines = [line for line in _lines(text) if line.text]
    return len(lines) >= 3 and sum(line.bullet for line in lines) >= 2


def parse_outline(text: str) -> Outline:
    outline = Outline()
    section = ""
    implicit = True  # no heading yet: a list's kind follows its bullets
    field_lines: list[str] = []
    step_lines: list[tuple[int | None, str]] = []
    prose: list[str] = []
    for line in _lines(text):
        if not line.text:
            continue
        kind = "" if line.bullet else _heading_kind(line.text)
        if kind:
            section, implicit = kind, False
            continue
        if line.bullet:
            if implicit:
                # A list without a heading: numbered reads as steps, bulleted as fields.
                section = "steps" if line.number is not None else "fields"
            if section == "fields":
                field_lines.append(line.text)
            else:
                step_lines.append((line.number, line.text))
            continue
        if not outline.title:
            outline.title = _clean(
                re.sub(r"^(?:title|name|ticket type|workflow)\s*:\s*", "", line.text, flags=re.I)
            )
            continue
        if section == "steps" and step_lines and re.match(r"^(if|otherwise|else|repeat)\b", line.text, re.I):
            number, previous = step_lines[-1]
            step_lines[-1] = (number, previous + " " + line.text)  # a condition under its step
            continue
        prose.append(line.text)
    for paragraph in prose:
        for sentence in re.split(r"(?<=[.!?])\s+", paragraph):
            _read_prose(outline, sentence)
    for text_line in field_lines:
        outline.fields.append(_read_field(text_line, outline))
        outline.asked.append(outline.fields[-1].name)
    _read_steps(outline, step_lines)
    _ask_about_approvals(outline)
    if not outline.title:
        outline.title = "New request"
        outline.questions.append("What should this kind of request be called? I called it “New request”.")
    if not outline.asked:
        outline.questions.append(
            "What should the form ask for? List the fields under a line “The form asks for:”."
        )
    if not outline.steps:
        outline.questions.append(
            "What happens after someone submits it? List the steps under a line “Steps:”, one per line."
        )
    return outline


def _ask_about_approvals(outline: Outline) -> None:
    conditions = " ".join(b.condition for step in outline.steps for b in step.branches)
    for step in outline.steps:
        for name in step.records:
            if name.startswith("approved") and not re.search(rf"\bdata\.{name}\b", conditions):
                outline.questions.append(
                    f"Step {step.id} (“{step.title}”): what happens when it is not approved? For now the "
                    "work goes on either way; add “If it is not approved, the ticket is closed.”"
                )


def _read_prose(outline: Outline, sentence: str) -> None:
    who = _WHO_SUBMITS.search(sentence)
    if who:
        names = re.split(r"\s*(?:,|/|&|\band\b|\bor\b)\s*", who.group("roles"))
        outline.submit_roles = _unique(_role_name(n) for n in names if _clean(n))
        sentence = _clean(sentence[: who.start()] + sentence[who.end() :].split(".", 1)[-1])
    elif _ANYONE_SUBMITS.search(sentence):
        outline.submit_roles = []
        return
    if sentence:
        outline.description = _clean(f"{outline.description} {sentence}") if outline.description else sentence
        if not outline.description.endswith((".", "!", "?")):
            outline.description += "."


def _role_name(text: str) -> str:
    words = _clean(re.sub(r"^(?:the|a|an|our|any)\s+", "", text.strip(), flags=re.I))
    # "employees" → "Employee": a role is what one person is
    words = (
        re.sub(r"(?<=[a-z])s$", "", words) if re.search(r"[^su]s$", words) and not words.isupper() else words
    )
    return " ".join(w[:1].upper() + w[1:] for w in words.split())


def _unique(items: Iterable[str]) -> list[str]:
    seen: dict[str, str] = {}
    for item in items:
        seen.setdefault(item.lower(), item)
    return list(seen.values())


_CEL_RESERVED = {
    "true", "false", "null", "in", "as", "break", "const", "continue", "else", "for", "function", "if",
    "import", "let", "loop", "package", "namespace", "return", "var", "void", "while", "has", "data",
}  # fmt: skip


def _unique_name(label: str, taken: Iterable[str]) -> str:
    words = [w for w in identifier(label).split("_") if w and w not in _STOP]
    base = "_".join(words[:4]) or "field"
    if not base[0].isalpha():
        base = f"f_{base}"
    base = base[:50]
    if base in _CEL_RESERVED:
        base = f"{base}_field"  # conditions read fields as data.<name>: a CEL word would not parse
    taken = set(taken)
    name, number = base, 2
    while name in taken:
        name, number = f"{base}_{number}", number + 1
    return name


def _read_field(text: str, outline: Outline, *, default_required: bool = True) -> OField:
    """One field line: `Label (hints): more hints - help text`."""
    hints = " ".join(re.findall(r"\(([^)]*)\)", text))
    label_part = re.sub(r"\([^)]*\)", " ", text)
    options: list[str] = []
    kind = ""
    choice_pattern = (
        r"(?:[:\-\u2013]\s*|\b)(?P<how>one of|choose from|choice of|either|pick one of|any of|one or more of|"
        r"several of|options?(?=\s*:))\s*:?\s*(?P<list>[^()]+)"
    )
    choice = re.search(choice_pattern + "$", label_part, re.I)
    in_parens = None if choice else re.search(r"\(" + choice_pattern + r"\)", text, re.I)
    if in_parens:  # "Item (one of: laptop, phone)"
        choice = in_parens
        hints = hints.replace(in_parens.group(0)[1:-1], "")
    if choice:
        if not in_parens:
            label_part = label_part[: choice.start()]
        options = _options(choice.group("list"))
        kind = (
            "multi_choice"
            if re.search(r"any of|one or more|several", choice.group("how"), re.I)
            else "choice"
        )
    else:
        inline = re.search(r"\(([^()]*/[^()]*)\)", text)
        if inline and not re.search(
            r"yes\s*/\s*no|y\s*/\s*n|true\s*/\s*false|date\s*/\s*time", inline.group(1), re.I
        ):
            options = _options(inline.group(1))
            kind = "choice" if len(options) > 1 else ""
    help_text = ""
    parts = re.split(r"\s+[-\u2013\u2014]\s+|:\s+", label_part, maxsplit=1)
    label = _label(parts[0])
    if len(parts) > 1:
        help_text = _sentence(parts[1])
    words = f"{label} {hints} {help_text}".lower()
    if not kind:
        kind = _guess_type(label, f"{hints} {help_text}")
    required = default_required and kind != "file" and not _OPTIONAL_LABEL.search(label)
    if re.search(r"\b(optional|if any|not required|if available|if known|can be empty)\b", words):
        required = False
    if re.search(r"\b(required|mandatory|must)\b", hints.lower() + " " + help_text.lower()) and not re.search(
        r"not required", words
    ):
        required = True
    help_text = _clean(re.sub(r"\b(optional|required|mandatory|if any)\b", "", help_text, flags=re.I))
    label = label or "Field"
    return OField(
        name=_unique_name(label, (f.name for f in outline.fields)),
        label=label,
        type=kind,
        required=required,
        options=options,
        help_text=_sentence(help_text) if help_text else "",
    )


def _options(text: str) -> list[str]:
    # "wash and fold, dry cleaning or ironing": commas separate; "and" only when there are none.
    text = _clean(text)
    separators = r"\s*(?:,|/|;|\bor\b)\s*" if re.search(r"[,/;]|\bor\b", text) else r"\s*\band\b\s*"
    parts = re.split(separators, re.sub(r",\s*(?:and|or)\s+", ", ", text))
    return _unique(_sentence(p) for p in parts if _clean(p))[:50]


def _guess_type(label: str, hints: str) -> str:
    text = f" {label} {hints} ".lower()
    if _IDENTIFIER_LABEL.search(label.strip()) and not re.search(r"\bnumber of\b", label, re.I):
        plain_hints = _guess_type("", hints) if hints.strip() else "text"
        return plain_hints
    for kind, words in _TYPE_WORDS:
        for word in words:
            pattern = re.escape(word) if not word[0].isalnum() else rf"\b{re.escape(word)}\b"
            if re.search(pattern, text):
                if kind == "date" and re.search(r"\btime\b", text):
                    return "datetime"
                return kind
    if _BOOLEAN_START.match(label.strip()):
        return "boolean"
    return "text"


# --- steps ------------------------------------------------------------------------------------


def _read_steps(outline: Outline, lines: list[tuple[int | None, str]]) -> None:
    """Steps and their branches. "step K" means the item numbered K as written."""
    numbers: dict[int, int] = {}  # written number → step id (a condition-only item maps to the next step)
    pending_numbers: list[int] = []
    parsed: list[tuple[Step, str]] = []  # a step and its text's conditional part, read after all steps
    for index, (number, text) in enumerate(lines, start=1):
        written = number if number is not None else index
        head, tail = _split_conditions(text)
        if not head and parsed:
            # "If … go to step 4": a branch of the step before, numbered on its own.
            step, tail_before = parsed[-1]
            parsed[-1] = (step, f"{tail_before} {tail}".strip())
            pending_numbers.append(written)
            continue
        step = Step(id=len(parsed) + 1, text=head or text)
        for pending in pending_numbers:
            numbers[pending] = step.id
        pending_numbers = []
        numbers[written] = step.id
        _read_step(outline, step)
        parsed.append((step, tail))
    for pending in pending_numbers:
        numbers[pending] = END
    outline.steps = [step for step, _ in parsed]
    for step, tail in parsed:
        _read_branches(outline, step, tail, numbers)


def _split_conditions(text: str) -> tuple[str, str]:
    """ "Washer washes it. If damaged is yes, go to step 3" → the doing and the branching."""
    match = re.search(r"(?:^|[.;,]\s*|\s)(?=(?:if|when|in case|otherwise|else|repeat)\b)", text, re.I)
    while match:
        rest = text[match.end() :]
        if _IF.match(rest) or _REPEAT.match(rest) or _OTHERWISE.match(rest):
            return _clean(text[: match.start()]), rest.strip()
        match = re.compile(r"(?:[.;,]\s*|\s)(?=(?:if|when|in case|otherwise|else|repeat)\b)", re.I).search(
            text, match.end()
        )
    return text.strip(), ""


def _read_step(outline: Outline, step: Step) -> None:
    text = _clean(step.text)
    if re.search(
        r"\b(then\s+)?(?:the\s+)?(?:ticket|request)\s+is\s+(?:closed|done|finished)\s*$", text, re.I
    ):
        step.ends = True
        text = _clean(
            re.sub(
                r",?\s*(?:and\s+)?(then\s+)?(?:the\s+)?(?:ticket|request)\s+is\s+(?:closed|done|finished)\s*$",
                "",
                text,
                flags=re.I,
            )
        )
    if re.search(
        r"\b(whoever is free|first (?:one )?(?:available|to claim)|anyone (?:in|from) .+ can take|pool)\b",
        text,
        re.I,
    ):
        step.pool = True
    if _WAIT.match(text) or _CALL.search(text):
        record = _ACTION_RECORD.search(text)
        if record is not None:
            # "Call https://… to place the order and record the order number": read from the answer.
            for label in _record_labels(record.group("what")):
                step.records.append(_step_field(outline, label))
            text = _clean(text[: record.start()])
    wait = _WAIT.match(text)
    if wait:
        step.kind = "ASYNC_ACTION"
        url = _URL.search(text)
        step.url = url.group(0).rstrip(".,;") if url else ""
        step.timeout = _duration(text) or 7 * 24 * 3600
        who = _clean(
            re.sub(
                r"\(\s*\)|\b(?:within|in|for|up to|at most)\s+\d+\s*\w+", "", _URL.sub("", wait.group("who"))
            )
        )
        step.title = _sentence(f"Wait for {who}")[:200]
        if not step.url:
            outline.questions.append(
                f"Step {step.id} (“{step.title}”): which address should I call so that {who} knows "
                "to confirm? I used https://example.com/confirm for now."
            )
            step.url = "https://example.com/confirm"
        return
    if _CALL.search(text):
        step.kind = "SYNC_ACTION"
        url = _URL.search(text)
        step.url = url.group(0).rstrip(".,;") if url else ""
        step.timeout = _duration(text) or 30
        what = re.sub(
            r"^(?:call|post to|send to|notify|push to)\s+(?:our\s+\w+\s+)?(?:at\s+)?(?:to\s+)?",
            "",
            _clean(_URL.sub("", text)),
            flags=re.I,
        )
        what = re.sub(r"^(?:to|and)\s+", "", what.strip(), flags=re.I)
        step.title = _sentence(_clean(what))[:200] or "Call our system"
        if not step.url:
            outline.questions.append(
                f"Step {step.id} (“{step.title}”): what is the address of the system to call? "
                "I used https://example.com/hook for now."
            )
            step.url = "https://example.com/hook"
        return
    role, rest = _subject(text)
    step.role = role
    if not role:
        outline.questions.append(
            f"Who does step {step.id} (“{_short(text)}”)? I gave it to every task worker; name a role "
            "(for example “Manager checks …”) to narrow it."
        )
    record = _RECORD.search(rest)
    doing = rest
    if record:
        doing = rest[: record.start()]
        for label in _record_labels(record.group("what")):
            step.records.append(_step_field(outline, label))
    if _APPROVE.search(rest):
        name = _unique_name(
            "approved"
            if not any(s.kind == "FORM" and "approved" in s.records for s in outline.steps)
            else f"{role} approved",
            (f.name for f in outline.fields),
        )
        outline.fields.append(
            OField(name=name, label=f"Approved by {role.lower()}" if role else "Approved", type="boolean")
        )
        step.records.insert(0, name)
    step.title = _sentence(f"{role} {_clean(doing)}" if role else _clean(doing))[:200] or f"Step {step.id}"


def _subject(text: str) -> tuple[str, str]:
    """ "The driver picks up the laundry" → ("Driver", "picks up the laundry")."""
    match = re.match(
        r"^(?:then\s+|next,?\s+|finally,?\s+|after that,?\s+|first,?\s+)?"
        r"(?:the\s+|a\s+|an\s+|our\s+|one of our\s+)?"
        r"(?P<who>[A-Za-z][\w'&-]*(?:\s+[A-Za-z][\w'&-]*){0,3}?)\s+"
        r"(?P<verb>(?!is\b|was\b|has\b|does\b|gets\b|needs\b)[a-z]+(?:s|es))\b(?P<rest>.*)$",
        text.strip(),
        re.I,
    )
    if not match:
        return "", text
    who = match.group("who")
    acronym = who.isupper() and len(who) > 1  # "IT prepares …" is a department, not "it"
    if not acronym and (
        who.lower() in _NOBODY or who.lower().split()[0] in {"if", "when", "then", "we", "it", "this", "that"}
    ):
        return "", text
    return _role_name(who), f"{match.group('verb')}{match.group('rest')}"


def _record_labels(what: str) -> list[str]:
    what = re.split(r"\.\s", what, maxsplit=1)[0]
    # Commas inside "(yes/no, optional)" belong to the field: hide them while splitting.
    what = re.sub(r"\([^)]*\)", lambda m: m.group(0).replace(",", "\x00").replace(" and ", "\x01"), what)
    parts = re.split(
        r"\s*,\s*(?:and\s+)?|\s+and\s+(?=(?:the|a|an|whether|if|how|any)\b|[^,]+$)", _clean(what)
    )
    labels = []
    for part in parts:
        part = part.replace("\x00", ",").replace("\x01", " and ")
        part = _clean(re.sub(r"^(?:the|a|an|their|any)\s+", "", part, flags=re.I))
        if part and len(part) <= 80:
            labels.append(part)
    return labels[:12]


def _step_field(outline: Outline, label_text: str) -> str:
    """A field a step records: an existing one when the words match, else a new optional-free one."""
    existing = _match_field(outline, label_text)
    if existing is not None and _words(existing.label) == _words(
        _label(re.sub(r"\([^)]*\)", "", label_text))
    ):
        return existing.name
    new = _read_field(label_text, outline)
    if re.match(r"^(whether|if)\b", label_text, re.I):
        new.type = "boolean"
        new.label = _label(re.sub(r"^(?:whether|if)\s+(?:it|they|the\s+\w+)?\s*", "", new.label, flags=re.I))
        new.name = _unique_name(new.label, (f.name for f in outline.fields))
    new.required = new.type not in ("long_text", "file", "boolean") and new.required
    outline.fields.append(new)
    return new.name


def _duration(text: str) -> int:
    match = re.search(r"\b(?:within|in|for|up to|at most)\s+(\d+)\s*(minute|hour|day|week)s?\b", text, re.I)
    if not match:
        return 0
    unit = {"minute": 60, "hour": 3600, "day": 86400, "week": 604800}[match.group(2).lower()]
    return int(match.group(1)) * unit


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- branches ---------------------------------------------------------------------------------


def _read_branches(outline: Outline, step: Step, text: str, numbers: dict[int, int]) -> None:
    rest = text
    while rest:
        repeat = _REPEAT.match(rest)
        if repeat:
            target = numbers.get(int(repeat.group("from"))) if repeat.group("from") else step.id
            cond = _condition(outline, repeat.group("cond"), step, create=True)
            if cond is None or target is None:
                outline.questions.append(f"Step {step.id}: I could not read “{_short(rest)}”.")
                return
            step.branches.append(Branch(cond[0], cond[1], _next_id(outline, step)))
            step.branches.append(Branch("", "", target))
            return
        match = _IF.match(rest)
        if match:
            target = _target(match.group("then"), numbers)
            cond = _condition(outline, match.group("cond"), step)
            if cond is None:
                outline.questions.append(
                    f"Step {step.id}: I could not tell which field “{_short(match.group('cond'))}” means; "
                    "name a field the form asks or a step records."
                )
            elif target is None:
                outline.questions.append(f"Step {step.id}: “{_short(match.group('then'))}” names no step.")
            else:
                step.branches.append(Branch(cond[0], cond[1], target))
            rest = _clean(match.group("rest")).lstrip(",;. ")
            continue
        otherwise = _OTHERWISE.match(rest)
        if otherwise:
            target = _target(otherwise.group("then"), numbers)
            if target is None:
                target = _next_id(outline, step)
            step.branches.append(Branch("", "", target))
            return
        outline.questions.append(f"Step {step.id}: I did not understand “{_short(rest)}”.")
        return


def _target(text: str, numbers: dict[int, int]) -> int | None:
    goto = _GOTO.search(text)
    if goto:
        return numbers.get(int(goto.group("n")))
    if _END.search(text):
        return END
    return None


def _next_id(outline: Outline, step: Step) -> int:
    return step.id + 1 if step.id < len(outline.steps) else END


_COMPARE = [
    (r"(?:is\s+)?(?:more than|greater than|higher than|bigger than|over|above|exceeds?|larger than|>)", ">"),
    (r"(?:is\s+)?(?:at least|minimum|>=)", ">="),
    (r"(?:is\s+)?(?:less than|lower than|smaller than|under|below|<)", "<"),
    (r"(?:is\s+)?(?:at most|maximum|<=)", "<="),
    (r"(?:is not|isn't|is no longer|does not equal|!=|≠)", "!="),
    (r"(?:is|are|equals?|=|==|was)", "=="),
]


def _condition(outline: Outline, phrase: str, step: Step, *, create: bool = False) -> tuple[str, str] | None:
    """A condition in words → (CEL, the words). None when no field can be matched."""
    if re.search(r"\bdata\.[a-z]", phrase):
        return phrase.strip(), phrase.strip()  # already CEL (an outline written from a saved workflow)
    for word, op in (("and", "&&"), ("or", "||")):
        parts = re.split(rf"\s+{word}\s+", phrase.strip())
        if len(parts) > 1:
            read = [_condition(outline, part, step) for part in parts]
            if all(read):
                return f" {op} ".join(f"({r[0]})" for r in read if r), phrase.strip()
    readable = _clean(phrase)
    phrase = _clean(re.sub(r"^(?:the|it|its)\s+", "", phrase.strip(), flags=re.I))
    lowered = phrase.lower()
    negated = bool(re.match(r"^(?:not|no)\s+", lowered))
    approval_words = re.fullmatch(
        r"(?:it\s+|it's\s+)?(?:is\s+|was\s+)?(?P<not>not\s+)?(?:approved|accepted|ok|okay)|(?:is\s+)?(?:rejected|declined|refused)",
        lowered,
    )
    if approval_words:
        negated = negated or bool(approval_words.group("not"))
        approval = next(
            (
                f
                for s in reversed(outline.steps[: step.id])
                for f in map(outline.field_named, s.records)
                if f and f.type == "boolean" and f.name.startswith("approved")
            ),
            None,
        )
        if approval is None:
            approval = next((f for f in outline.fields if f.name.startswith("approved")), None)
        if approval is None:
            return None
        holds = not (negated or re.search(r"rejected|declined|refused", lowered))
        return (f"data.{approval.name}" if holds else f"!data.{approval.name}"), readable
    for pattern, op in _COMPARE:
        match = re.search(rf"^(?P<field>.+?)\s+{pattern}\s+(?P<value>.+)$", phrase, re.I)
        if not match:
            continue
        found = _match_field(outline, match.group("field"))
        if found is None:
            continue
        return _compare(found, op, match.group("value")), readable
    found = _match_field(outline, re.sub(r"^(?:not|no)\s+", "", phrase, flags=re.I))
    if found is not None and found.type == "boolean":
        return (
            f"!{_has(found)}data.{found.name}" if negated else f"{_has(found)}data.{found.name}"
        ), readable
    if create:
        label = _label(re.sub(r"^(?:not|no)\s+", "", phrase, flags=re.I))
        name = _unique_name(label, (f.name for f in outline.fields))
        outline.fields.append(OField(name=name, label=label, type="boolean", required=False))
        step.records.append(name)
        return (f"!({_has_guard(name)})" if negated else _has_guard(name)), readable
    return None


def _has(found: OField) -> str:
    return "" if found.required else f"has(data.{found.name}) && "


def _has_guard(name: str) -> str:
    return f"has(data.{name}) && data.{name}"


def _compare(found: OField, op: str, value_text: str) -> str:
    value_text = _clean(value_text.strip("\"'“”"))
    lowered = value_text.lower()
    ref = f"data.{found.name}"
    guard = _has(found)
    if found.type == "boolean":
        truthy = lowered in ("yes", "true", "y", "checked", "ticked", "on")
        if op == "!=":
            truthy = not truthy
        return f"{guard}{ref}" if truthy else f"{guard}!{ref}"
    number = re.search(r"-?\d+(?:[.,]\d+)?", lowered.replace(",", ""))
    if found.type in ("number", "integer") and number:
        literal = number.group(0)
        literal = literal if found.type == "integer" or "." in literal else f"{literal}.0"
        if found.type == "integer" and "." in literal:
            literal = str(int(float(literal)))
        return f"{guard}{ref} {op} {literal}"
    if found.type in ("choice", "multi_choice") and found.options:
        option = next((o for o in found.options if o.lower() == lowered), None) or next(
            (o for o in found.options if _words(o) and set(_words(o)) <= set(_words(lowered))), None
        )
        literal = _cel_string(option or _sentence(value_text))
        if found.type == "multi_choice":
            test = f"{literal} in {ref}"
            return f"{guard}!({test})" if op == "!=" else f"{guard}{test}"
        return f"{guard}{ref} {'!=' if op == '!=' else '=='} {literal}"
    return f"{guard}{ref} {op if op in ('==', '!=') else '=='} {_cel_string(value_text)}"


def _cel_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _same_match(outline: Outline, phrase: str, chosen: OField) -> list[OField]:
    """Other fields the words name just as well as `chosen`."""
    scores = _match_scores(outline, phrase)
    best = scores.get(chosen.name, 0.0)
    return [f for f in outline.fields if f is not chosen and scores.get(f.name) == best]


def _match_field(outline: Outline, phrase: str) -> OField | None:
    """The field whose label the words name best: all its words, or all the phrase's words."""
    scores = _match_scores(outline, phrase)
    best = max(outline.fields, key=lambda f: scores.get(f.name, 0.0), default=None)
    return best if best is not None and scores.get(best.name, 0.0) >= 0.5 else None


def _match_scores(outline: Outline, phrase: str) -> dict[str, float]:
    wanted = set(_words(phrase))
    scores: dict[str, float] = {}
    for candidate in outline.fields if wanted else []:
        have = set(_words(candidate.label)) | set(candidate.name.split("_"))
        common = wanted & have
        if not common:
            continue
        score = len(common) / len(wanted | set(_words(candidate.label)))
        if common == wanted or common >= set(_words(candidate.label)):
            score += 1
        if candidate.name == "_".join(_words(phrase)):
            score += 1  # named exactly
        scores[candidate.name] = score
    return scores


# --- writing the bundle -----------------------------------------------------------------------


def outline_bundle(outline: Outline) -> dict[str, Any]:
    by_name = {f.name: f for f in outline.fields}
    # The form's fields, then what each step records, in the steps' order.
    order = list(
        dict.fromkeys([*outline.asked, *(n for step in outline.steps for n in step.records), *by_name])
    )
    fields = []
    for f in (by_name[name] for name in order if name in by_name):
        spec: dict[str, Any] = {"name": f.name, "type": f.type, "label": f.label, "required": f.required}
        if f.help_text:
            spec["help_text"] = f.help_text
        if f.options:
            spec["options"] = f.options
        fields.append(spec)
    keys: dict[int, str] = {}
    taken: set[str] = set()
    for step in outline.steps:
        if step.key and step.key not in taken:
            keys[step.id] = step.key
            taken.add(step.key)
            continue
        base = identifier(step.title)[:40] or f"step_{step.id}"
        key, n = base, 2
        while key in taken:
            key, n = f"{base}_{n}", n + 1
        taken.add(key)
        keys[step.id] = key
    known: list[str] = list(outline.asked)
    tasks = []
    for step in outline.steps:
        task: dict[str, Any] = {
            "key": keys[step.id],
            "title": step.title,
            "type": step.kind,
            "description": "",
            "input_schema": _schema(
                [
                    n
                    for n in (step.inputs if step.inputs is not None else known)
                    if n in by_name and n not in step.records
                ],
                by_name,
                required=False,
            ),
            "output_schema": _schema(step.records, by_name, required=True, also=_must_record(step)),
        }
        if step.kind == "FORM":
            task["assignment"] = "pool" if step.pool else "auto"
            task["worker_role"] = step.role or None
        elif step.kind == "CODE":
            task["code"] = step.code
            task["timeout_seconds"] = step.timeout or None
        else:
            task["action_url"] = step.url
            task["timeout_seconds"] = step.timeout
            task["input_transform"] = None  # the task's input: every field known so far that has a value
            task["output_transform"] = _pick(step.records)
        tasks.append(task)
        known += [n for n in step.records if n not in known]
    transitions: list[dict[str, Any]] = []
    if outline.steps:
        transitions.append({"from": None, "to": keys[outline.steps[0].id], "condition": "", "priority": 0})
    for index, step in enumerate(outline.steps):
        branches = list(step.branches)
        if branches and branches[-1].condition and not step.exact:
            # Every outcome must go somewhere: when no condition holds, on to the next step.
            nxt = outline.steps[index + 1].id if index + 1 < len(outline.steps) and not step.ends else END
            branches.append(Branch("", "", nxt))
        if not branches and not step.ends and index + 1 < len(outline.steps):
            branches = [Branch("", "", outline.steps[index + 1].id)]
        ends_if = [b for b in branches if b.target == END]
        if ends_if and len(ends_if) == len(branches):
            continue  # every way ends here: no transitions
        if ends_if:
            # A branch that ends needs a task to end at: the engine ends a run only where a task has
            # no outgoing transitions. Send it to a closing step made for it.
            closing = _closing_step(outline, tasks, keys)
            branches = [replace(b, target=closing) if b.target == END else b for b in branches]
        given = [b.priority for b in branches]
        # A saved workflow's priorities, while they still order the ways as listed; else 0, 1, 2…
        as_saved = None not in given and given == sorted(set(given))  # type: ignore[type-var]
        for position, branch in enumerate(branches):
            transitions.append(
                {
                    "from": keys[step.id],
                    "to": keys[branch.target],
                    "condition": branch.condition,
                    "priority": branch.priority if as_saved and branch.priority is not None else position,
                }
            )
    ticket_type: dict[str, Any] = {
        "title": outline.title,
        "description": outline.description,
        "fields": [{"field": n} for n in outline.asked],
        "allowed_roles": outline.submit_roles,
    }
    if outline.ticket_type is not None:
        # A saved workflow's ticket type keeps its name, text and presets; the outline says what it asks.
        kept = [
            e
            for e in outline.ticket_type.get("fields") or []
            if e.get("field") in by_name and ("preset" in e or e.get("field") in outline.asked)
        ]
        named = {e["field"] for e in kept}
        ticket_type["title"] = outline.ticket_type.get("title") or outline.title
        ticket_type["description"] = outline.ticket_type.get("description") or ""
        ticket_type["fields"] = kept + [{"field": n} for n in outline.asked if n not in named]
    bundle: dict[str, Any] = {
        "format": "ticketflower-bundle/1",
        "workflow": {
            "title": outline.title,
            "description": outline.description,
            "fields": fields,
            "tasks": tasks,
            "transitions": transitions,
        },
        "ticket_types": [ticket_type],
    }
    for task in tasks:
        task.update(task_layouts(bundle, task))
    ticket_type.update(ticket_layouts(bundle, ticket_type))
    return bundle


def _pick(names: list[str]) -> dict[str, Any]:
    """An output transform that takes the recorded fields from the answer when it has them, and
    nothing else (without one the whole answer would be the output, unknown keys and all)."""
    return {
        "$merge": [
            {
                "$if": f"typeof(response) == 'object' && '{name}' in response",
                "then": {name: {"$eval": f"response.{name}"}},
                "else": {},
            }
            for name in names
        ]
    }


def _closing_step(outline: Outline, tasks: list[dict[str, Any]], keys: dict[int, str]) -> int:
    closing_id = 10_000
    if closing_id not in keys:
        taken = set(keys.values())
        keys[closing_id] = next(
            k for k in ("closed", *(f"closed_{n}" for n in range(2, 100))) if k not in taken
        )
        tasks.append(
            {
                "key": keys[closing_id],
                "title": "Close the ticket",
                "type": "FORM",
                "description": "Tell the submitter the outcome and close the ticket.",
                "input_schema": _schema(
                    [f.name for f in outline.fields], {f.name: f for f in outline.fields}, required=False
                ),
                "output_schema": {"type": "object", "properties": {}},
                "assignment": "auto",
                "worker_role": None,
            }
        )
    return closing_id


def _must_record(step: Step) -> set[str]:
    """What a task must record: what the saved workflow required, and whatever its own
    transitions read (a yes/no left blank would otherwise always take the same way)."""
    read = {n for b in step.branches for n in re.findall(r"data\.(\w+)", b.condition)}
    return set(step.must_record or []) | (read & set(step.records))


def _schema(
    names: list[str], by_name: dict[str, OField], *, required: bool, also: set[str] | None = None
) -> dict[str, Any]:
    properties = {}
    for name in names:
        f = by_name[name]
        properties[name] = value_schema({"type": f.type, "options": f.options})
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    wanted = [n for n in names if required and (by_name[n].required or n in (also or set()))]
    if wanted:
        schema["required"] = wanted
    return schema


# --- writing the outline back ------------------------------------------------------------------


def outline_text(outline: Outline) -> str:
    """The outline in the words the reader understands: edit it and send it back as it is."""
    lines = [outline.title]
    if outline.description:
        lines.append(outline.description)
    if outline.submit_roles:
        lines.append(f"Only {_join(outline.submit_roles)} can request this.")
    lines += ["", "The form asks for:"]
    for name in outline.asked:
        f = outline.field_named(name)
        if f is not None:
            lines.append(f"- {_field_words(f)}")
    lines += ["", "Steps:"]
    for step in outline.steps:
        lines.append(f"{step.id}. {_step_words(outline, step)}")
    return "\n".join(lines)


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


_TYPE_HINT = {
    "integer": "how many", "number": "number", "boolean": "yes/no", "date": "date",
    "datetime": "date and time",
    "email": "email", "url": "link", "file": "file", "long_text": "notes", "text": "",
}  # fmt: skip


def _field_words(f: OField) -> str:
    hints = []
    if f.type in ("choice", "multi_choice"):
        how = "one of" if f.type == "choice" else "any of"
        text = f"{f.label}: {how} {', '.join(f.options)}"
    else:
        text = f.label
        if f.type != _guess_type(f.label, "") and _TYPE_HINT[f.type]:
            hints.append(_TYPE_HINT[f.type])
    if not f.required:
        hints.append("optional")
    elif f.type in _OPTIONAL_BY_DEFAULT:
        hints.append("required")
    if hints:
        text = (
            text.replace(":", f" ({', '.join(hints)}):", 1) if ":" in text else f"{text} ({', '.join(hints)})"
        )
    if f.help_text:
        text += f" - {f.help_text}"
    return text


def _lower_first(text: str) -> str:
    first = text.split(" ", 1)[0]
    return text if first.isupper() and len(first) > 1 else text[:1].lower() + text[1:]


def _duration_words(seconds: int) -> str:
    for unit, size in (("week", 604800), ("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            n = seconds // size
            return f"{n} {unit}{'s' if n != 1 else ''}"
    return f"{max(1, seconds // 60)} minutes"


def _step_words(outline: Outline, step: Step) -> str:
    if step.kind == "ASYNC_ACTION":
        words = f"{step.title} ({step.url}) within {_duration_words(step.timeout)}"
    elif step.kind == "SYNC_ACTION":
        words = f"Call {step.url} to {_lower_first(step.title)}"
    elif step.kind == "CODE":
        words = f"Run code to {_lower_first(step.title)}"
    else:
        words = step.title
    records = [f for f in map(outline.field_named, step.records) if f and not f.name.startswith("approved")]
    if records:
        words += " and records " + _join([_lower_first(_field_words(f)) for f in records])
    if step.pool:
        words += " (whoever is free)"
    words = words.rstrip(".") + "."
    for branch in step.branches:
        where = "the ticket is closed" if branch.target == END else f"go to step {branch.target}"
        words += f" If {branch.readable}, {where}." if branch.condition else f" Otherwise {where}."
    if step.ends and not step.branches:
        words += " Then the ticket is closed."
    return words


# --- revising ---------------------------------------------------------------------------------


def revise(outline: Outline, instruction: str) -> tuple[list[str], list[str]]:
    """Apply one message's changes in place: (what was done, what was not understood)."""
    done: list[str] = []
    missed: list[str] = []
    for sentence in re.split(
        r"(?<=[.!?;])\s+|\n+|\s+and\s+(?=(?:make|add|remove|drop|rename|call|only)\b)", instruction
    ):
        sentence = _clean(sentence)
        if not sentence:
            continue
        result = _revise_one(outline, sentence)
        (done if result else missed).append(result or sentence)
    return done, missed


def _revise_one(outline: Outline, text: str) -> str:
    lowered = text.lower()
    m = re.match(
        r"^(?:please\s+)?make\s+(?:the\s+)?(.+?)\s+(optional|required|mandatory|not required)$", lowered
    )
    if m:
        f = _match_field(outline, m.group(1))
        if f is None:
            return f"There is no field “{_clean(m.group(1))}” to make {m.group(2)}."
        others = _same_match(outline, m.group(1), f)
        if others:
            names = _join([f"“{o.label}”" for o in [f, *others]])
            outline.questions.append(
                f"“{m.group(1)}” could be {names}: I changed “{f.label}”; name the other to change it."
            )
        wanted = m.group(2) in ("required", "mandatory")
        if f.required == wanted:
            return f"“{f.label}” was already {'required' if wanted else 'optional'}."
        f.required = wanted
        return f"“{f.label}” is now {'required' if f.required else 'optional'}."
    m = re.match(
        r"^(?:please\s+)?(?:add|also ask for|ask for|ask)\s+(?:a\s+|an\s+)?(?:new\s+)?"
        r"(?:field\s*:?\s*(?:for\s+)?)?(.+?)(?:\s+field)?(?:\s+too|\s+as well)?$",
        text,
        re.I,
    )
    if m and not re.search(r"\b(approval|step|check|review)\b", lowered):
        new = _read_field(m.group(1), outline)
        outline.fields.append(new)
        outline.asked.append(new.name)
        return f"The form now asks for “{new.label}”."
    m = re.match(
        r"^(?:please\s+)?(?:remove|drop|delete)\s+(?:the\s+)?(?:field\s+)?(.+?)(?:\s+field)?$"
        r"|^(?:don't|do not)\s+ask\s+for\s+(?:the\s+)?(.+)$",
        text,
        re.I,
    )
    if m and not re.search(r"\bstep\b", lowered):
        f = _match_field(outline, m.group(1) or m.group(2))
        if f is None or f.name not in outline.asked:
            return ""
        outline.asked.remove(f.name)
        if not any(f.name in s.records for s in outline.steps):
            outline.fields.remove(f)
        return f"The form no longer asks for “{f.label}”."
    m = re.match(r"^(?:please\s+)?rename\s+(?:the\s+)?(?:field\s+)?(.+?)\s+to\s+(.+)$", text, re.I)
    if m:
        f = _match_field(outline, m.group(1))
        if f is None:
            return ""
        f.label = _label(m.group(2).strip("\"'“”"))
        return f"Renamed to “{f.label}”."
    m = re.match(r"^(?:please\s+)?(?:call it|rename it to|change the title to|title it)\s+(.+)$", text, re.I)
    if m:
        outline.title = _clean(m.group(1).strip("\"'“”"))
        return f"It is now called “{outline.title}”."
    m = re.match(
        r"^(?:please\s+)?(?:make\s+)?(?:the\s+)?(.+?)\s+(?:should be|is)\s+one of:?\s+(.+)$", text, re.I
    )
    if m:
        f = _match_field(outline, m.group(1))
        if f is None:
            return ""
        f.type, f.options = "choice", _options(m.group(2))
        return f"“{f.label}” is now one of {', '.join(f.options)}."
    m = _WHO_SUBMITS.search(text)
    if m:
        _read_prose(outline, text)
        return f"Only {_join(outline.submit_roles)} can request it now."
    m = re.match(
        r"^(?:please\s+)?add\s+(?:an?\s+)?(?P<role>[\w ]+?)\s+(?:approval|sign-off|check)(?:\s+step)?"
        r"(?:\s+(?:when|if)\s+(?P<cond>.+))?$",
        text,
        re.I,
    )
    if m:
        return _add_step(outline, f"{_role_name(m.group('role'))} approves", m.group("cond"))
    m = re.match(
        r"^(?:please\s+)?add\s+(?:a\s+)?step\s*:?\s*(?P<text>.+?)(?:\s+(?:when|if)\s+(?P<cond>[^,]+))?$",
        text,
        re.I,
    )
    if m:
        return _add_step(outline, m.group("text").strip("\"'“”"), m.group("cond"))
    m = re.match(r"^(?:please\s+)?(?:remove|drop|delete)\s+step\s+(\d+)$", lowered)
    if m:
        return _remove_step(outline, int(m.group(1)))
    return ""


def _add_step(outline: Outline, text: str, condition: str | None) -> str:
    """A new step where its condition's data is known: after the step recording it.

    The start cannot branch (a workflow has one), so a step whose condition reads only the
    form goes after the first step, and the reply says so.
    """
    new = Step(id=len(outline.steps) + 1, text=text)
    _read_step(outline, new)
    cond: tuple[str, str] | None = None
    position = len(outline.steps)
    note = ""
    if condition:
        cond = _condition(outline, condition, new)
        if cond is None:
            return ""
        names = set(re.findall(r"data\.(\w+)", cond[0]))
        position = max((i + 1 for i, s in enumerate(outline.steps) if names & set(s.records)), default=0)
        if position == 0 and outline.steps:
            position = 1
            note = " The first step always runs, so it comes after step 1."
    if cond is None and position == len(outline.steps) and outline.steps and outline.steps[-1].ends:
        outline.steps[-1].ends, new.ends = False, True  # a step added at the end is the new end
    steps = [*outline.steps[:position], new, *outline.steps[position:]]
    _renumber(outline, steps)
    approval = next((n for n in new.records if n.startswith("approved")), None)
    if approval is not None:
        # An approval that changes nothing is no approval: refused, the ticket is closed.
        new.branches = [Branch(f"!data.{approval}", "it is not approved", END)]
    if cond is not None and position > 0:
        before = steps[position - 1]
        after = steps[position + 1].id if position + 1 < len(steps) else END
        if before.branches:
            # After the step's own conditions; what held no condition still goes where it went.
            conditional = [b for b in before.branches if b.condition]
            fallback = [b for b in before.branches if not b.condition]
            if not fallback and not before.exact:
                fallback = [Branch("", "", END if before.ends else after)]
            before.branches = [*conditional, Branch(cond[0], cond[1], new.id), *fallback]
            before.ends = False
        else:
            before.branches = [
                Branch(cond[0], cond[1], new.id),
                Branch("", "", END if before.ends else after),
            ]
            before.ends = False
    when = f", when {cond[1]}" if cond else ""
    return f"Added step {new.id}: “{new.title}”{when}.{note}"


def _remove_step(outline: Outline, number: int) -> str:
    gone = next((s for s in outline.steps if s.id == number), None)
    if gone is None:
        return ""
    follows = number + 1 if number < len(outline.steps) else END
    for step in outline.steps:  # who went to the removed step goes where it would have gone
        step.branches = [replace(b, target=follows) if b.target == number else b for b in step.branches]
    _renumber(outline, [s for s in outline.steps if s is not gone])
    for step in outline.steps:
        step.branches = [b for b in step.branches if b.target != step.id]
    return f"Removed step {number} (“{gone.title}”)."


def _renumber(outline: Outline, steps: list[Step]) -> None:
    """Steps numbered by position again; branches keep pointing at the same steps."""
    mapping = {step.id: index for index, step in enumerate(steps, start=1)}
    mapping[END] = END
    for step in steps:
        step.branches = [replace(b, target=mapping.get(b.target, END)) for b in step.branches]
    for step in steps:
        step.id = mapping[step.id]
    outline.steps = steps


# --- the generator ----------------------------------------------------------------------------


class OutlineGenerator:
    """Reads the latest outline of the conversation and applies the messages after it.

    The latest outline is the newest of: an outline a person sent (or uploaded), the outline
    written back in the generator's own last reply, or, revising a saved workflow, its draft.
    Each answer thus applies only the messages that came after it, and nothing twice.
    """

    name = "outline"

    def propose(
        self, request: ProposalRequest, *, check: Check | None = None, on_text: OnText | None = None
    ) -> Proposal:
        started = time.monotonic()
        outline, instructions, fresh = _starting_point(request)
        done: list[str] = []
        missed: list[str] = []
        for instruction in instructions:
            d, m = revise(outline, instruction)
            done += d
            missed += m
        outline.questions += [
            f"I did not understand “{_short(text, 80)}”. See the assistant's help for what I can change."
            for text in dict.fromkeys(missed)
        ]
        outline.questions = list(dict.fromkeys(outline.questions))[:MAX_QUESTIONS]
        bundle = outline_bundle(outline)
        if request.draft:
            _keep_written(bundle, request.draft)
        reply = _reply(outline, done, missed, revised=not fresh, from_draft=outline.ticket_type is not None)
        if on_text is not None:
            on_text(reply)
        return Proposal(
            bundle=bundle,
            reply=reply,
            questions=outline.questions,
            usage=Usage(seconds=time.monotonic() - started),
        )


MAX_QUESTIONS = 20
_OUTLINE_MARK = "The outline I worked from:\n\n"


def _starting_point(request: ProposalRequest) -> tuple[Outline, list[str], bool]:
    """The outline to start from, the change requests after it, and whether it is new."""
    documents = {d.name: d.text for d in request.documents}
    messages = request.messages
    for index in range(len(messages) - 1, -1, -1):
        message = messages[index]
        after = [m.text for m in messages[index + 1 :] if m.role == "user" and m.text.strip()]
        if message.role == "assistant" and _OUTLINE_MARK in message.text:
            return parse_outline(message.text.split(_OUTLINE_MARK, 1)[1]), after, False
        if message.role != "user":
            continue
        attached = "\n\n".join(documents.get(name, "") for name in message.documents).strip()
        if looks_like_outline(message.text):
            return parse_outline(message.text), after, True
        if attached and looks_like_outline(attached):
            instructions = (
                [message.text] if message.text.strip() and not looks_like_outline(message.text) else []
            )
            return parse_outline(attached), instructions + after, True
    users = [m.text for m in messages if m.role == "user" and m.text.strip()]
    if request.draft:
        # Revising a saved workflow: start from the draft as it stands now (the last proposal,
        # or the saved draft) and apply what was asked since the last answer.
        last = max((i for i, m in enumerate(messages) if m.role == "assistant"), default=-1)
        since = [m.text for m in messages[last + 1 :] if m.role == "user" and m.text.strip()]
        return outline_from_bundle(request.draft), since, False
    loose = "\n\n".join(text for text in documents.values() if text.strip())
    if loose:
        return parse_outline(loose), users, True
    return parse_outline(users[0] if users else ""), users[1:], True


def outline_from_bundle(bundle: dict[str, Any]) -> Outline:
    """A workflow as an outline (conditions in CEL), to revise a saved draft in plain words."""
    workflow = bundle.get("workflow") or {}
    ticket_types = bundle.get("ticket_types") or []
    first = ticket_types[0] if ticket_types else {}
    outline = Outline(
        title=str(workflow.get("title") or ""),
        description=str(workflow.get("description") or first.get("description") or ""),
        submit_roles=list(first.get("allowed_roles") or []),
    )
    if len(ticket_types) > 1:
        outline.questions.append(
            f"This workflow has {len(ticket_types)} ticket types; I kept only “{first.get('title')}”."
        )
    for f in workflow.get("fields") or []:
        outline.fields.append(
            OField(
                name=f["name"],
                label=str(f.get("label") or f["name"]),
                type=str(f.get("type") or "text"),
                required=bool(f.get("required")),
                options=list(f.get("options") or []),
                help_text=str(f.get("help_text") or ""),
            )
        )
    known = {f.name for f in outline.fields}
    outline.ticket_type = dict(first) if first else None
    outline.asked = [
        e["field"] for e in first.get("fields") or [] if e.get("field") in known and "preset" not in e
    ]
    transitions = workflow.get("transitions") or []
    start = next((t["to"] for t in transitions if t.get("from") is None), None)
    tasks = sorted(workflow.get("tasks") or [], key=lambda t: t["key"] != start)  # the start's first
    ids = {task["key"]: number for number, task in enumerate(tasks, start=1)}
    for task in tasks:
        step = Step(
            id=ids[task["key"]],
            text=str(task.get("title") or task["key"]),
            kind=str(task.get("type") or "FORM"),
            role=str(task.get("worker_role") or ""),
            title=str(task.get("title") or task["key"]),
            records=[n for n in (task.get("output_schema") or {}).get("properties") or {} if n in known],
            url=str(task.get("action_url") or ""),
            timeout=int(task.get("timeout_seconds") or 0),
            code=str(task.get("code") or ""),
            pool=task.get("assignment") == "pool",
            key=str(task["key"]),
            inputs=list((task.get("input_schema") or {}).get("properties") or {}),
            must_record=list((task.get("output_schema") or {}).get("required") or []),
            exact=True,
        )
        outgoing = sorted(
            (t for t in transitions if t.get("from") == task["key"] and t.get("to") in ids),
            key=lambda t: int(t.get("priority") or 0),
        )
        step.branches = [
            Branch(
                str(t.get("condition") or ""),
                str(t.get("condition") or ""),
                ids[t["to"]],
                int(t.get("priority") or 0),
            )
            for t in outgoing
        ]
        if not outgoing:
            step.ends = True
        elif len(outgoing) == 1 and not step.branches[0].condition and step.branches[0].target == step.id + 1:
            step.branches = []  # simply the next step
            step.exact = False
        outline.steps.append(step)
    return outline


def _keep_written(bundle: dict[str, Any], draft: dict[str, Any]) -> None:
    """Keep what the draft holds for a task or ticket type the proposal still has with the same
    fields: its layouts (hand-made, or empty for the generated default), schemas, links and, for
    actions, its transforms. A revision then changes only what was asked."""
    before = {
        t.get("key"): t for t in (draft.get("workflow") or {}).get("tasks") or [] if isinstance(t, dict)
    }

    def names(schema: Any) -> set[str]:
        return set(((schema or {}).get("properties") or {}).keys()) if isinstance(schema, dict) else set()

    for task in bundle["workflow"]["tasks"]:
        old = before.get(task["key"])
        if old is None or old.get("type") != task["type"]:
            continue
        task["ext_ref"] = old.get("ext_ref") or []
        task["description"] = old.get("description") or task.get("description") or ""
        if names(old.get("output_schema")) == names(task["output_schema"]):
            task["output_schema"] = old.get("output_schema") or {}  # left out: none, as an import reads it
            task["edit_layout"] = old.get("edit_layout") or ""
            if task["type"] != "FORM":
                task["input_transform"] = old.get("input_transform")
                task["output_transform"] = old.get("output_transform")
        if names(old.get("input_schema")) == names(task["input_schema"]):
            task["input_schema"] = old.get("input_schema") or {}
            task["display_layout"] = old.get("display_layout") or ""
    old_types = {
        str(t.get("title", "")).lower(): t for t in draft.get("ticket_types") or [] if isinstance(t, dict)
    }
    for ticket_type in bundle["ticket_types"]:
        old = old_types.get(ticket_type["title"].lower())
        if old is not None and [e.get("field") for e in old.get("fields") or []] == [
            e["field"] for e in ticket_type["fields"]
        ]:
            ticket_type["edit_layout"] = old.get("edit_layout") or ""
            ticket_type["display_layout"] = old.get("display_layout") or ""
            ticket_type["ext_ref"] = old.get("ext_ref") or []
    old_workflow = draft.get("workflow") or {}
    bundle["workflow"]["display_layout"] = old_workflow.get("display_layout") or ""
    bundle["workflow"]["ext_ref"] = old_workflow.get("ext_ref") or []


def _reply(
    outline: Outline, done: list[str], missed: list[str], *, revised: bool, from_draft: bool = False
) -> str:
    if not outline.asked and not outline.steps:
        return (
            "I could not find a form or steps in that. Write the request's name on the first line, "
            "then “The form asks for:” with one field per line, then “Steps:” with one step per line, "
            "for example:\n\n" + _EXAMPLE
        )
    counts = (
        f"{len(outline.asked)} field{'s' if len(outline.asked) != 1 else ''} on the form and "
        f"{len(outline.steps)} step{'s' if len(outline.steps) != 1 else ''}"
    )
    head = " ".join(done) + "\n\n" if done else ""
    if missed:
        head += (
            "".join(f"I did not understand “{_short(text, 80)}”.\n" for text in dict.fromkeys(missed)) + "\n"
        )
    intro = "Here is the revised workflow" if revised else "Here is a workflow"
    outline_words = outline_text(outline)
    # A saved workflow's outline is shown, not marked: the next answer starts from the draft
    # again, which keeps what an outline cannot say (keys, transforms, presets).
    mark = "The workflow as an outline:\n\n" if from_draft else _OUTLINE_MARK
    return f"{head}{intro} for “{outline.title}”: {counts}. {mark}{outline_words}"


_EXAMPLE = """Bike repair
Customers bring in a bike to be repaired.

The form asks for:
- Customer name
- Phone
- What is broken (notes)
- Photo (optional)

Steps:
1. Mechanic checks the bike and records the price.
2. If the price is more than 100, go to step 3, otherwise go to step 4.
3. Manager approves. If it is not approved, the ticket is closed.
4. Mechanic repairs the bike. Then the ticket is closed."""
