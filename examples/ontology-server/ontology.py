"""A small Turtle (subset) parser and an in-memory ontology store.

Standard library only; runs on Python 3.9+.

Supported Turtle: ``@prefix`` / ``@base`` and SPARQL-style ``PREFIX`` / ``BASE``;
IRIs ``<...>`` (resolved against the base); prefixed names; ``a``; ``;`` and ``,``
lists; blank nodes ``_:x`` and ``[ ... ]``; collections ``( ... )``; string
literals in all four quote styles with escapes, language tags and ``^^``
datatypes; integers, decimals, doubles and booleans; ``#`` comments.

Not supported (the parser stops with a ParseError naming file and line):
anything outside that list, e.g. RDF-star.
"""

from __future__ import annotations

import os
import re
from collections import namedtuple
from urllib.parse import urljoin
from urllib.request import pathname2url

RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
OWL = "http://www.w3.org/2002/07/owl#"
XSD = "http://www.w3.org/2001/XMLSchema#"

RDF_TYPE = RDF + "type"
RDFS_LABEL = RDFS + "label"
RDFS_COMMENT = RDFS + "comment"
RDFS_SUBCLASS_OF = RDFS + "subClassOf"


class IRI(str):
    """An absolute IRI."""

    __slots__ = ()


class BNode(str):
    """A blank node label (document-scoped, already made unique)."""

    __slots__ = ()


Literal = namedtuple("Literal", ["value", "lang", "datatype"])


class ParseError(ValueError):
    def __init__(self, source: str, line: int, message: str):
        super().__init__("%s:%d: %s" % (source, line, message))
        self.source = source
        self.line = line


# --------------------------------------------------------------------------- tokenizer

_PN_PREFIX = r"[^\W\d_](?:[\w.-]*[\w-])?"
_PLX = r"%[0-9A-Fa-f]{2}|\\[_~.\-!$&'()*+,;=/?#@%]"
_PN_LOCAL = r"(?:[\w:]|%s)(?:(?:[\w.:-]|%s)*(?:[\w:-]|%s))?" % (_PLX, _PLX, _PLX)

_TOKEN_RE = re.compile(
    r"""
    (?P<ws>[ \t\r\n]+|\#[^\r\n]*)
  | (?P<iri><[^<>"{}|^`\\\x00-\x20]*>)
  | (?P<long>\"\"\"(?:[^"\\]|\\.|"(?!""))*\"\"\"|'''(?:[^'\\]|\\.|'(?!''))*''')
  | (?P<string>"(?:[^"\\\r\n]|\\.)*"|'(?:[^'\\\r\n]|\\.)*')
  | (?P<langtag>@[A-Za-z]+(?:-[A-Za-z0-9]+)*)
  | (?P<dtmark>\^\^)
  | (?P<bnode>_:[\w](?:[\w.-]*[\w-])?)
  | (?P<double>[+-]?(?:\d+\.\d*[eE][+-]?\d+|\.\d+[eE][+-]?\d+|\d+[eE][+-]?\d+))
  | (?P<decimal>[+-]?\d*\.\d+)
  | (?P<integer>[+-]?\d+)
  | (?P<pname>(?:%s)?:(?:%s)?)
  | (?P<word>[A-Za-z]+)
  | (?P<punct>[.;,\[\]()])
    """
    % (_PN_PREFIX, _PN_LOCAL),
    re.VERBOSE | re.DOTALL,
)

_ECHAR = {"t": "\t", "b": "\b", "n": "\n", "r": "\r", "f": "\f", '"': '"', "'": "'", "\\": "\\"}
_ESCAPE_RE = re.compile(r"\\(u[0-9A-Fa-f]{4}|U[0-9A-Fa-f]{8}|.)", re.DOTALL)
_UCHAR_RE = re.compile(r"\\(u[0-9A-Fa-f]{4}|U[0-9A-Fa-f]{8})")
_SCHEME_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")


def _unescape_string(text: str, bad) -> str:
    def replace(match):
        esc = match.group(1)
        if esc[0] in "uU" and len(esc) > 1:
            return chr(int(esc[1:], 16))
        if esc in _ECHAR:
            return _ECHAR[esc]
        raise bad("invalid escape sequence \\%s" % esc)

    return _ESCAPE_RE.sub(replace, text)


def resolve_iri(base: str, ref: str) -> str:
    """RFC 3986 reference resolution; unlike bare urljoin, keeps an empty fragment ('ex#')."""
    if _SCHEME_RE.match(ref) or not base:
        return ref
    path, hash_mark, fragment = ref.partition("#")
    base = base.split("#", 1)[0]
    return (urljoin(base, path) if path else base) + hash_mark + fragment


def _tokenize(text: str, source: str):
    tokens = []  # (kind, value, line)
    pos, line, end = 0, 1, len(text)
    while pos < end:
        match = _TOKEN_RE.match(text, pos)
        if match is None:
            snippet = text[pos : pos + 20].split("\n", 1)[0]
            raise ParseError(source, line, "unexpected input %r" % snippet)
        kind = match.lastgroup
        value = match.group(kind)
        if kind == "word" and text.startswith(":", match.end()):
            # A bare word directly followed by ':' is a prefix name the pname rule rejected.
            raise ParseError(source, line, "invalid prefixed name starting %r" % value)
        if kind != "ws":
            tokens.append((kind, value, line))
        line += value.count("\n")
        pos = match.end()
    tokens.append(("eof", "", line))
    return tokens


# --------------------------------------------------------------------------- parser


class _Parser:
    def __init__(self, text: str, source: str, base: str, bnode_prefix: str):
        self.source = source
        self.tokens = _tokenize(text, source)
        self.i = 0
        self.base = base
        self.prefixes = {}
        self.triples = []
        self.bnode_prefix = bnode_prefix
        self.bnode_count = 0
        self.bnode_labels = {}

    # -- helpers
    def error(self, message: str, token=None) -> ParseError:
        token = token or self.tokens[self.i]
        return ParseError(self.source, token[2], message)

    def peek(self):
        return self.tokens[self.i]

    def next(self):
        token = self.tokens[self.i]
        self.i += 1
        return token

    def expect_punct(self, char: str):
        token = self.next()
        if token[0] != "punct" or token[1] != char:
            raise self.error("expected %r, found %r" % (char, token[1] or "end of file"), token)

    def is_punct(self, char: str) -> bool:
        token = self.peek()
        return token[0] == "punct" and token[1] == char

    def new_bnode(self) -> BNode:
        self.bnode_count += 1
        return BNode("%sb%d" % (self.bnode_prefix, self.bnode_count))

    def iri_from_token(self, token) -> IRI:
        kind, value, _ = token
        if kind == "iri":
            raw = _UCHAR_RE.sub(lambda m: chr(int(m.group(1)[1:], 16)), value[1:-1])
            return IRI(resolve_iri(self.base, raw))
        if kind == "pname":
            prefix, _, local = value.partition(":")
            if prefix not in self.prefixes:
                raise self.error("undeclared prefix %r" % (prefix + ":"), token)
            local = re.sub(r"\\(.)", r"\1", local)
            return IRI(self.prefixes[prefix] + local)
        raise self.error("expected an IRI, found %r" % (value or "end of file"), token)

    # -- grammar
    def parse(self):
        while self.peek()[0] != "eof":
            self.statement()
        return self.triples

    def statement(self):
        kind, value, _ = self.peek()
        if kind == "langtag" and value in ("@prefix", "@base"):
            self.next()
            self.directive(value[1:])
            self.expect_punct(".")
        elif kind == "word" and value.upper() in ("PREFIX", "BASE"):
            self.next()
            self.directive(value.lower())
        else:
            self.triples_statement()
            self.expect_punct(".")

    def directive(self, name: str):
        if name == "prefix":
            token = self.next()
            if token[0] != "pname" or not token[1].endswith(":"):
                raise self.error("expected a prefix name like 'ex:'", token)
            iri_token = self.next()
            if iri_token[0] != "iri":
                raise self.error("expected <IRI> after prefix name", iri_token)
            self.prefixes[token[1][:-1]] = self.iri_from_token(iri_token)
        else:
            iri_token = self.next()
            if iri_token[0] != "iri":
                raise self.error("expected <IRI> after base", iri_token)
            self.base = self.iri_from_token(iri_token)

    def triples_statement(self):
        if self.is_punct("["):
            subject = self.blank_node_property_list()
            if not self.is_punct("."):
                self.predicate_object_list(subject)
            return
        subject = self.subject()
        self.predicate_object_list(subject)

    def subject(self):
        token = self.peek()
        if token[0] in ("iri", "pname"):
            return self.iri_from_token(self.next())
        if token[0] == "bnode":
            return self.bnode_from_label(self.next()[1])
        if self.is_punct("("):
            return self.collection()
        raise self.error("expected a subject, found %r" % (token[1] or "end of file"))

    def bnode_from_label(self, label: str) -> BNode:
        if label not in self.bnode_labels:
            self.bnode_labels[label] = self.new_bnode()
        return self.bnode_labels[label]

    def predicate_object_list(self, subject):
        self.object_list(subject, self.verb())
        while self.is_punct(";"):
            while self.is_punct(";"):
                self.next()
            token = self.peek()
            if token[0] in ("iri", "pname") or (token[0] == "word" and token[1] == "a"):
                self.object_list(subject, self.verb())

    def verb(self) -> IRI:
        token = self.peek()
        if token[0] == "word" and token[1] == "a":
            self.next()
            return IRI(RDF_TYPE)
        if token[0] in ("iri", "pname"):
            return self.iri_from_token(self.next())
        raise self.error("expected a predicate, found %r" % (token[1] or "end of file"))

    def object_list(self, subject, predicate):
        self.triples.append((subject, predicate, self.object()))
        while self.is_punct(","):
            self.next()
            self.triples.append((subject, predicate, self.object()))

    def object(self):
        token = self.peek()
        kind, value, _ = token
        if kind in ("iri", "pname"):
            return self.iri_from_token(self.next())
        if kind == "bnode":
            return self.bnode_from_label(self.next()[1])
        if kind == "punct" and value == "[":
            return self.blank_node_property_list()
        if kind == "punct" and value == "(":
            return self.collection()
        if kind in ("string", "long"):
            return self.literal()
        if kind in ("integer", "decimal", "double"):
            self.next()
            return Literal(value, None, IRI(XSD + kind))
        if kind == "word" and value in ("true", "false"):
            self.next()
            return Literal(value, None, IRI(XSD + "boolean"))
        raise self.error("expected an object, found %r" % (value or "end of file"))

    def literal(self) -> Literal:
        token = self.next()
        kind, value, _ = token
        body = value[3:-3] if kind == "long" else value[1:-1]

        def bad(message):
            return self.error(message, token)

        text = _unescape_string(body, bad)
        nxt = self.peek()
        if nxt[0] == "langtag":
            self.next()
            return Literal(text, nxt[1][1:].lower(), None)
        if nxt[0] == "dtmark":
            self.next()
            return Literal(text, None, self.iri_from_token(self.next()))
        return Literal(text, None, None)

    def blank_node_property_list(self) -> BNode:
        self.expect_punct("[")
        node = self.new_bnode()
        if not self.is_punct("]"):
            self.predicate_object_list(node)
        self.expect_punct("]")
        return node

    def collection(self):
        self.expect_punct("(")
        items = []
        while not self.is_punct(")"):
            if self.peek()[0] == "eof":
                raise self.error("unterminated collection")
            items.append(self.object())
        self.next()
        if not items:
            return IRI(RDF + "nil")
        head = node = self.new_bnode()
        for index, item in enumerate(items):
            self.triples.append((node, IRI(RDF + "first"), item))
            rest = self.new_bnode() if index + 1 < len(items) else IRI(RDF + "nil")
            self.triples.append((node, IRI(RDF + "rest"), rest))
            node = rest
        return head


def parse_turtle(text: str, source: str = "<string>", base: str = "", bnode_prefix: str = "_:"):
    """Parse Turtle text; returns (triples, prefixes). Raises ParseError."""
    parser = _Parser(text, source, base, bnode_prefix)
    triples = parser.parse()
    return triples, dict(parser.prefixes)


# --------------------------------------------------------------------------- store


def local_name(iri: str) -> str:
    for sep in ("#", "/", ":"):
        if sep in iri:
            tail = iri.rsplit(sep, 1)[1]
            if tail:
                return tail
    return iri


class Ontology:
    """All triples from the .ttl files of one directory, with a few lookups."""

    def __init__(self):
        self.files = []
        self.triples = []
        self.prefixes = {}
        self._by_subject = {}
        self._by_object = {}

    # -- loading
    @classmethod
    def load_directory(cls, directory: str) -> "Ontology":
        if not os.path.isdir(directory):
            raise FileNotFoundError("ontology directory not found: %s" % directory)
        names = sorted(n for n in os.listdir(directory) if n.endswith(".ttl"))
        if not names:
            raise FileNotFoundError("no .ttl files in %s" % directory)
        onto = cls()
        for index, name in enumerate(names):
            path = os.path.join(directory, name)
            with open(path, encoding="utf-8") as handle:
                text = handle.read()
            base = "file:" + pathname2url(os.path.abspath(path))
            triples, prefixes = parse_turtle(text, name, base, "_:f%d" % index)
            onto.add(name, triples, prefixes)
        return onto

    def add(self, name: str, triples, prefixes):
        self.files.append(name)
        for prefix, iri in prefixes.items():
            self.prefixes.setdefault(prefix, iri)
        seen = set(self.triples)
        for triple in triples:
            if triple in seen:
                continue
            seen.add(triple)
            self.triples.append(triple)
            s, p, o = triple
            self._by_subject.setdefault(s, {}).setdefault(p, []).append(o)
            if isinstance(o, IRI):
                self._by_object.setdefault(o, []).append((s, p))

    # -- lookups
    def objects(self, subject, predicate):
        return self._by_subject.get(subject, {}).get(predicate, [])

    def properties(self, subject):
        return self._by_subject.get(subject, {})

    def referrers(self, obj):
        return self._by_object.get(obj, [])

    def compact(self, iri: str) -> str:
        best = None
        for prefix, ns in self.prefixes.items():
            if iri.startswith(ns) and len(iri) > len(ns):
                if best is None or len(ns) > len(self.prefixes[best]):
                    best = prefix
        return "%s:%s" % (best, iri[len(self.prefixes[best]) :]) if best is not None else "<%s>" % iri

    def text(self, subject, predicate, lang: str = "en"):
        """The preferred literal: language `lang` (then `lang-*`), then untagged, then any."""
        values = [o for o in self.objects(subject, predicate) if isinstance(o, Literal)]
        for accept in (
            lambda v: v.lang == lang,
            lambda v: (v.lang or "").startswith(lang + "-"),
            lambda v: v.lang is None,
        ):
            for value in values:
                if accept(value):
                    return value.value
        return values[0].value if values else None

    def label(self, subject) -> str:
        return self.text(subject, RDFS_LABEL) or local_name(subject)

    def superclasses(self, cls_iri):
        result, todo = [], [cls_iri]
        while todo:
            current = todo.pop()
            for parent in self.objects(current, RDFS_SUBCLASS_OF):
                if isinstance(parent, IRI) and parent not in result and parent != cls_iri:
                    result.append(parent)
                    todo.append(parent)
        return result

    def types(self, subject):
        return [t for t in self.objects(subject, RDF_TYPE) if isinstance(t, IRI)]

    def kinds(self, subject):
        """Local names of the subject's types and of their superclasses."""
        names = []
        for type_iri in self.types(subject):
            for iri in [type_iri] + self.superclasses(type_iri):
                name = local_name(iri)
                if name not in names:
                    names.append(name)
        return names or ["Resource"]

    def concepts(self):
        """Named (IRI) subjects with an rdfs:label, except the owl:Ontology headers."""
        result = []
        for subject in self._by_subject:
            if not isinstance(subject, IRI) or not self.objects(subject, RDFS_LABEL):
                continue
            if IRI(OWL + "Ontology") in self.types(subject):
                continue
            result.append(subject)
        result.sort(key=self.compact)
        return result

    def find(self, name: str):
        """Concepts matching a local name, prefixed name, full IRI or label (case-insensitive)."""
        wanted = name.strip().lower()
        concepts = self.concepts()
        for key in (
            lambda c: c.lower(),
            lambda c: self.compact(c).lower(),
            lambda c: local_name(c).lower(),
        ):
            hits = [c for c in concepts if key(c) == wanted]
            if hits:
                return hits
        return [
            c
            for c in concepts
            if any(isinstance(o, Literal) and o.value.lower() == wanted for o in self.objects(c, RDFS_LABEL))
        ]

    def describe_term(self, term) -> str:
        if isinstance(term, Literal):
            if term.lang:
                return '"%s"@%s' % (term.value, term.lang)
            return term.value
        if isinstance(term, BNode):
            return "[blank node]"
        if self.objects(term, RDFS_LABEL):
            return "%s (%s)" % (self.label(term), self.compact(term))
        return self.compact(term)
