"""A Markdown runbook as a tree of sections and blocks, each with its source lines.

markdown-it-py (CommonMark plus GFM tables) does the parsing; this module only regroups its block tokens:
a heading opens a section that holds the blocks up to the next heading of the same or a higher level.
Every block keeps the 1-based lines it came from so that the import report can account for each line.
Inline content is kept both as plain text and as its code spans and bold runs, read from the inline
tokens' children (never by pattern-matching raw Markdown).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from markdown_it import MarkdownIt
from markdown_it.token import Token

__all__ = ["Block", "Fence", "Html", "Inline", "Item", "ListBlock", "Para", "Rule", "Section", "Table", "parse"]

# Nesting deeper than this is read as text by markdown-it (its own guard against pathological input).
MAX_NESTING = 20


@dataclass
class Inline:
    """One run of inline Markdown: its plain text, code spans and bold runs."""

    text: str = ""
    codes: list[str] = field(default_factory=list)
    bold: list[str] = field(default_factory=list)

    @property
    def lead_bold(self) -> str | None:
        """The bold run the text starts with (a list item's title: ``**Deploy:** ...``)."""
        if self.bold and self.text.lstrip().startswith(self.bold[0]):
            return self.bold[0]
        return None


@dataclass
class Block:
    first: int  # 1-based first line
    last: int  # 1-based last line (inclusive)


@dataclass
class Para(Block):
    inline: Inline = field(default_factory=Inline)


@dataclass
class Fence(Block):
    info: str = ""
    content: str = ""


@dataclass
class Html(Block):
    content: str = ""


@dataclass
class Rule(Block):
    pass


@dataclass
class Table(Block):
    header: list[str] = field(default_factory=list)
    rows: list[tuple[int, list[Inline]]] = field(default_factory=list)  # (line, cells)


@dataclass
class Item(Block):
    checkbox: bool = False  # a `- [ ]` / `- [x]` checklist item
    blocks: list[Block] = field(default_factory=list)

    @property
    def lead(self) -> Para | None:
        return self.blocks[0] if self.blocks and isinstance(self.blocks[0], Para) else None


@dataclass
class ListBlock(Block):
    ordered: bool = False
    items: list[Item] = field(default_factory=list)


@dataclass
class Section:
    level: int  # 0 for the document itself, 1-6 for headings
    title: str
    line: int  # the heading's line (0 for the document)
    blocks: list[Block] = field(default_factory=list)
    children: list[Section] = field(default_factory=list)
    inline: Inline = field(default_factory=Inline)


def _inline(tok: Token) -> Inline:
    out = Inline()
    parts: list[str] = []
    bold_depth = 0
    bold_parts: list[str] = []
    for child in tok.children or []:
        if child.type == "text":
            s = child.content
        elif child.type == "code_inline":
            s = child.content
            out.codes.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            s = " "
        elif child.type == "strong_open":
            bold_depth += 1
            bold_parts = []
            continue
        elif child.type == "strong_close":
            bold_depth = max(0, bold_depth - 1)
            if bold_depth == 0:
                out.bold.append("".join(bold_parts).strip())
            continue
        elif child.type in ("html_inline",):
            s = child.content
        else:
            continue
        parts.append(s)
        if bold_depth:
            bold_parts.append(s)
    out.text = " ".join("".join(parts).split())
    return out


def _lines(tok: Token) -> tuple[int, int]:
    m = tok.map or [0, 1]
    return m[0] + 1, max(m[0] + 1, m[1])


def _take_checkbox(item: Item) -> None:
    """GFM task list: an item whose text starts with ``[ ]`` or ``[x]``."""
    lead = item.lead
    if lead is None:
        return
    text = lead.inline.text
    if len(text) >= 3 and text[0] == "[" and text[2] == "]" and text[1] in " xX":
        item.checkbox = True
        lead.inline.text = text[3:].strip()


def parse(text: str) -> Section:
    """Parse ``text`` into the document section (level 0) with nested heading sections."""
    md = MarkdownIt("commonmark", {"maxNesting": MAX_NESTING}).enable("table")
    tokens = md.parse(text)
    doc = Section(level=0, title="", line=0)
    sections: list[Section] = [doc]
    # containers: a stack of block lists being filled (the section's, an item's)
    stack: list[list[Block]] = [doc.blocks]
    lists: list[ListBlock] = []
    items: list[Item] = []
    i = 0
    n = len(tokens)
    while i < n:
        tok = tokens[i]
        t = tok.type
        if t == "heading_open":
            level = int(tok.tag[1:])
            first, _ = _lines(tok)
            inl = _inline(tokens[i + 1]) if i + 1 < n and tokens[i + 1].type == "inline" else Inline()
            while len(sections) > 1 and sections[-1].level >= level:
                sections.pop()
            sec = Section(level=level, title=inl.text, line=first, inline=inl)
            sections[-1].children.append(sec)
            sections.append(sec)
            stack = [sec.blocks]
            lists, items = [], []
            i += 3
            continue
        if t == "paragraph_open":
            first, last = _lines(tok)
            inl = _inline(tokens[i + 1]) if i + 1 < n and tokens[i + 1].type == "inline" else Inline()
            stack[-1].append(Para(first, last, inl))
            i += 3
            continue
        if t in ("bullet_list_open", "ordered_list_open"):
            first, last = _lines(tok)
            lb = ListBlock(first, last, ordered=t == "ordered_list_open")
            stack[-1].append(lb)
            lists.append(lb)
        elif t in ("bullet_list_close", "ordered_list_close"):
            if lists:
                lists.pop()
        elif t == "list_item_open":
            first, last = _lines(tok)
            it = Item(first, last)
            if lists:
                lists[-1].items.append(it)
            items.append(it)
            stack.append(it.blocks)
        elif t == "list_item_close":
            if items:
                _take_checkbox(items.pop())
            if len(stack) > 1:
                stack.pop()
        elif t in ("fence", "code_block"):
            first, last = _lines(tok)
            stack[-1].append(Fence(first, last, info=tok.info.strip(), content=tok.content))
        elif t == "html_block":
            first, last = _lines(tok)
            stack[-1].append(Html(first, last, content=tok.content))
        elif t == "hr":
            first, last = _lines(tok)
            stack[-1].append(Rule(first, last))
        elif t == "table_open":
            first, last = _lines(tok)
            table = Table(first, last)
            j = i + 1
            in_head = False
            row: list[Inline] = []
            row_line = first
            while j < n and tokens[j].type != "table_close":
                tj = tokens[j]
                if tj.type == "thead_open":
                    in_head = True
                elif tj.type == "thead_close":
                    in_head = False
                elif tj.type == "tr_open":
                    row = []
                    row_line = _lines(tj)[0]
                elif tj.type == "inline":
                    row.append(_inline(tj))
                elif tj.type == "tr_close":
                    if in_head:
                        table.header = [c.text for c in row]
                    else:
                        table.rows.append((row_line, row))
                j += 1
            stack[-1].append(table)
            i = j + 1
            continue
        # blockquotes: their paragraphs and lists land in the current container, which is what a reader
        # of a runbook means by them (a highlighted note).
        i += 1
    return doc
