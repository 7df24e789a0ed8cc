//! The XML that NVIDIA's RIMs need, and no more: a namespace-aware element tree read with
//! quick-xml's tokenizer (prefixes kept, as canonicalization must write them back), and
//! Canonical XML (C14N 1.0 and 1.1, without comments) of an element subtree, optionally
//! leaving one element out (the enveloped-signature transform).
//!
//! No pure-Rust canonicalizer is maintained today (the XML-DSig crates bind libxml2/xmlsec),
//! so C14N is written here against W3C's rules, restricted to documents where C14N 1.0 and
//! 1.1 agree: no DTD, no processing instructions, no `xml:*` attributes above the
//! canonicalized element. Anything outside that is rejected, never approximated.

use std::collections::BTreeMap;

use quick_xml::events::Event;

use crate::error::{EvidenceError, Result};

const S: &str = "NVIDIA RIM";
/// The namespace bound to the `xml` prefix.
pub const XML_NS: &str = "http://www.w3.org/XML/1998/namespace";
/// Inputs larger than this are refused (real RIMs are about 20 KiB).
pub const MAX_LEN: usize = 1 << 20;
/// Maximum element depth.
pub const MAX_DEPTH: usize = 32;

/// An attribute: its qualified name as written, its namespace and local name, and its value
/// after attribute-value normalization and reference expansion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attr {
    /// The name as written (`ns1:FirmwareManufacturerId`).
    pub qname: String,
    /// The namespace URI ("" for an unprefixed attribute).
    pub ns: String,
    /// The local name.
    pub local: String,
    /// The value.
    pub value: String,
}

/// A child node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// An element.
    Element(Element),
    /// Character data (references expanded, line ends normalized).
    Text(String),
}

/// An element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    /// The name as written (`ds:SignedInfo`).
    pub qname: String,
    /// The namespace URI.
    pub ns: String,
    /// The local name.
    pub local: String,
    /// Attributes (namespace declarations excluded), in document order.
    pub attrs: Vec<Attr>,
    /// Every namespace in scope (prefix, "" for the default -> URI), declarations of this
    /// element included.
    pub scope: BTreeMap<String, String>,
    /// Children, in document order.
    pub children: Vec<Node>,
}

impl Element {
    /// The child elements.
    pub fn elements(&self) -> impl Iterator<Item = &Element> {
        self.children.iter().filter_map(|c| match c {
            Node::Element(e) => Some(e),
            Node::Text(_) => None,
        })
    }

    /// The child elements named `{ns}local`.
    pub fn children_named<'a, 'b>(
        &'a self,
        ns: &'b str,
        local: &'b str,
    ) -> impl Iterator<Item = &'a Element> + use<'a, 'b> {
        self.elements()
            .filter(move |e| e.ns == ns && e.local == local)
    }

    /// The one child element named `{ns}local`; an error when there is none or several.
    pub fn only(&self, ns: &str, local: &str) -> Result<&Element> {
        let mut it = self.children_named(ns, local);
        match (it.next(), it.next()) {
            (Some(e), None) => Ok(e),
            (None, _) => Err(malformed(
                local,
                format!("no <{local}> in <{}>", self.qname),
            )),
            _ => Err(malformed(
                local,
                format!("more than one <{local}> in <{}>", self.qname),
            )),
        }
    }

    /// The value of attribute `{ns}local` ("" for an unprefixed one).
    pub fn attr(&self, ns: &str, local: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|a| a.ns == ns && a.local == local)
            .map(|a| a.value.as_str())
    }

    /// The concatenated text of the direct children.
    pub fn text(&self) -> String {
        self.children
            .iter()
            .filter_map(|c| match c {
                Node::Text(t) => Some(t.as_str()),
                Node::Element(_) => None,
            })
            .collect()
    }
}

fn malformed(field: &str, reason: String) -> EvidenceError {
    EvidenceError::Malformed {
        structure: S,
        field: "XML",
        offset: 0,
        reason: if field.is_empty() {
            reason
        } else {
            format!("{field}: {reason}")
        },
    }
}

fn at(offset: u64, reason: impl Into<String>) -> EvidenceError {
    EvidenceError::malformed(S, "XML", offset as usize, reason)
}

/// Normalizes line ends (`\r\n` and lone `\r` to `\n`), as an XML processor must before
/// parsing.
fn normalize_line_ends(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\r' {
            out.push(b'\n');
            if b.get(i + 1) == Some(&b'\n') {
                i += 1;
            }
        } else {
            out.push(b[i]);
        }
        i += 1;
    }
    out
}

fn unescape(raw: &str, offset: u64) -> Result<String> {
    quick_xml::escape::unescape(raw)
        .map(|c| c.into_owned())
        .map_err(|e| at(offset, format!("bad reference: {e}")))
}

fn resolve(
    qname: &str,
    scope: &BTreeMap<String, String>,
    attr: bool,
    offset: u64,
) -> Result<(String, String)> {
    match qname.split_once(':') {
        Some((p, l)) => {
            if p == "xml" {
                return Ok((XML_NS.into(), l.into()));
            }
            let ns = scope
                .get(p)
                .filter(|u| !u.is_empty())
                .ok_or_else(|| at(offset, format!("prefix {p:?} of {qname:?} is not declared")))?;
            Ok((ns.clone(), l.into()))
        }
        // Unprefixed attributes are in no namespace; unprefixed elements in the default one.
        None if attr => Ok((String::new(), qname.into())),
        None => Ok((scope.get("").cloned().unwrap_or_default(), qname.into())),
    }
}

/// Parses a document into its root element.
pub fn parse(bytes: &[u8]) -> Result<Element> {
    if bytes.len() > MAX_LEN {
        return Err(at(0, format!("{} bytes, more than {MAX_LEN}", bytes.len())));
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = normalize_line_ends(bytes);
    if std::str::from_utf8(&text).is_err() {
        return Err(at(0, "not UTF-8"));
    }
    let mut reader = quick_xml::Reader::from_reader(text.as_slice());
    reader.config_mut().trim_text(false);
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    let str_of = |b: &[u8], off: u64| -> Result<String> {
        String::from_utf8(b.to_vec()).map_err(|_| at(off, "not UTF-8"))
    };
    loop {
        let off = reader.buffer_position();
        let ev = reader
            .read_event()
            .map_err(|e| at(reader.error_position(), e.to_string()))?;
        match ev {
            Event::Start(s) => {
                let e = open(&s, &stack, root.is_some(), off)?;
                stack.push(e);
            }
            Event::Empty(s) => {
                let e = open(&s, &stack, root.is_some(), off)?;
                close(&mut stack, &mut root, e);
            }
            Event::End(_) => {
                let e = stack.pop().ok_or_else(|| at(off, "unmatched end tag"))?;
                close(&mut stack, &mut root, e);
            }
            Event::Text(t) => {
                let s = unescape(&str_of(&t, off)?, off)?;
                push_text(&mut stack, &s, off)?;
            }
            Event::GeneralRef(r) => {
                let name = str_of(&r, off)?;
                let s = unescape(&format!("&{name};"), off)?;
                push_text(&mut stack, &s, off)?;
            }
            Event::CData(c) => {
                let s = str_of(&c, off)?;
                push_text(&mut stack, &s, off)?;
            }
            Event::Comment(_) => {}
            Event::Decl(d) => {
                if let Some(Ok(enc)) = d.encoding()
                    && !enc.eq_ignore_ascii_case(b"utf-8")
                {
                    return Err(at(off, "only UTF-8 documents are read"));
                }
            }
            Event::PI(_) => return Err(at(off, "processing instructions are not supported")),
            Event::DocType(_) => return Err(at(off, "a DTD is not accepted")),
            Event::Eof => break,
        }
    }
    if !stack.is_empty() {
        return Err(at(
            text.len() as u64,
            format!("<{}> is not closed", stack[stack.len() - 1].qname),
        ));
    }
    root.ok_or_else(|| at(0, "no root element"))
}

fn open(
    s: &quick_xml::events::BytesStart<'_>,
    stack: &[Element],
    after_root: bool,
    off: u64,
) -> Result<Element> {
    let str_of = |b: &[u8], off: u64| -> Result<String> {
        String::from_utf8(b.to_vec()).map_err(|_| at(off, "not UTF-8"))
    };
    if after_root {
        return Err(at(off, "content after the root element"));
    }
    if stack.len() >= MAX_DEPTH {
        return Err(at(off, format!("deeper than {MAX_DEPTH} elements")));
    }
    let qname = str_of(s.name().as_ref(), off)?;
    let mut scope = stack.last().map(|p| p.scope.clone()).unwrap_or_default();
    let mut raw_attrs = Vec::new();
    for a in s.attributes() {
        let a = a.map_err(|e| at(off, format!("attribute: {e}")))?;
        let key = str_of(a.key.as_ref(), off)?;
        // Attribute-value normalization: whitespace characters become spaces,
        // then references are expanded.
        let raw = str_of(&a.value, off)?.replace(['\t', '\n'], " ");
        let value = unescape(&raw, off)?;
        if key == "xmlns" {
            scope.insert(String::new(), value);
        } else if let Some(p) = key.strip_prefix("xmlns:") {
            if value.is_empty() || p == "xmlns" || (p == "xml") != (value == XML_NS) {
                return Err(at(
                    off,
                    format!("bad namespace declaration {key}={value:?}"),
                ));
            }
            if p != "xml" {
                scope.insert(p.to_string(), value);
            }
        } else {
            raw_attrs.push((key, value));
        }
    }
    let mut attrs: Vec<Attr> = Vec::with_capacity(raw_attrs.len());
    for (qname, value) in raw_attrs {
        let (ns, local) = resolve(&qname, &scope, true, off)?;
        if attrs.iter().any(|a| a.ns == ns && a.local == local) {
            return Err(at(off, format!("attribute {qname:?} appears twice")));
        }
        attrs.push(Attr {
            qname,
            ns,
            local,
            value,
        });
    }
    let (ns, local) = resolve(&qname, &scope, false, off)?;
    let e = Element {
        qname,
        ns,
        local,
        attrs,
        scope,
        children: Vec::new(),
    };
    Ok(e)
}

fn push_text(stack: &mut [Element], s: &str, off: u64) -> Result<()> {
    match stack.last_mut() {
        Some(e) => {
            if let Some(Node::Text(t)) = e.children.last_mut() {
                t.push_str(s);
            } else {
                e.children.push(Node::Text(s.to_string()));
            }
            Ok(())
        }
        None if s.chars().all(|c| c.is_ascii_whitespace()) => Ok(()),
        None => Err(at(off, "text outside the root element")),
    }
}

fn close(stack: &mut [Element], root: &mut Option<Element>, e: Element) {
    match stack.last_mut() {
        Some(p) => p.children.push(Node::Element(e)),
        None => *root = Some(e),
    }
}

fn escape_text(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
}

fn escape_attr(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '"' => out.push_str("&quot;"),
            '\t' => out.push_str("&#x9;"),
            '\n' => out.push_str("&#xA;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
}

/// Canonical XML (inclusive, without comments) of `apex` and its subtree, leaving out any
/// element for which `omit` is true (with its subtree). `apex` is treated as the top of the
/// node-set: every namespace in its scope is written on it. Fails when an ancestor carried
/// `xml:*` attributes, where C14N 1.0 and 1.1 differ (the caller says whether there are any).
pub fn canonicalize(apex: &Element, omit: &dyn Fn(&Element) -> bool) -> Vec<u8> {
    let mut out = String::new();
    write(apex, &BTreeMap::new(), omit, &mut out);
    out.into_bytes()
}

fn write(
    e: &Element,
    parent_scope: &BTreeMap<String, String>,
    omit: &dyn Fn(&Element) -> bool,
    out: &mut String,
) {
    out.push('<');
    out.push_str(&e.qname);
    // Namespace declarations not already in force in the output parent, sorted by prefix
    // (the default namespace first). An empty default is written only to undo a parent's.
    for (p, uri) in &e.scope {
        let inherited = parent_scope.get(p).map(String::as_str).unwrap_or("");
        if uri == inherited {
            continue;
        }
        if p.is_empty() {
            out.push_str(" xmlns=\"");
        } else {
            out.push_str(" xmlns:");
            out.push_str(p);
            out.push_str("=\"");
        }
        escape_attr(uri, out);
        out.push('"');
    }
    // Attributes sorted by (namespace URI, local name); unqualified ones first.
    let mut attrs: Vec<&Attr> = e.attrs.iter().collect();
    attrs.sort_by(|a, b| (a.ns.as_str(), a.local.as_str()).cmp(&(b.ns.as_str(), b.local.as_str())));
    for a in attrs {
        out.push(' ');
        out.push_str(&a.qname);
        out.push_str("=\"");
        escape_attr(&a.value, out);
        out.push('"');
    }
    out.push('>');
    for c in &e.children {
        match c {
            Node::Text(t) => escape_text(t, out),
            Node::Element(child) if omit(child) => {}
            Node::Element(child) => write(child, &e.scope, omit, out),
        }
    }
    out.push_str("</");
    out.push_str(&e.qname);
    out.push('>');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c14n(doc: &str) -> String {
        String::from_utf8(canonicalize(&parse(doc.as_bytes()).unwrap(), &|_| false)).unwrap()
    }

    /// Examples from W3C Canonical XML 1.0 §3 (without the DTD-dependent parts).
    #[test]
    fn w3c_examples() {
        // 3.2 whitespace in document content is kept; empty elements are expanded.
        assert_eq!(
            c14n(
                "<doc>\r\n   <clean>   </clean>\n   <dirty>   A   B   </dirty>\n   <mixed>\n      A\n      <clean>   </clean>\n   </mixed>\n</doc>"
            ),
            "<doc>\n   <clean>   </clean>\n   <dirty>   A   B   </dirty>\n   <mixed>\n      A\n      <clean>   </clean>\n   </mixed>\n</doc>"
        );
        // 3.3 start and end tags: attribute order, namespace declarations, superfluous ones.
        assert_eq!(
            c14n(
                r#"<doc><e1   /><e2   ></e2><e3   name = "elem3"   id="elem3"   /><e5 a:attr="out" b:attr="sorted" attr2="all" attr="I'm"
   xmlns:b="http://www.ietf.org"
   xmlns:a="http://www.w3.org"
   xmlns="http://example.org"/><e6 xmlns="" xmlns:a="http://www.w3.org"><e7 xmlns="http://www.ietf.org"><e8 xmlns="" xmlns:a="http://www.w3.org"><e9 xmlns="" xmlns:a="http://www.ietf.org"/></e8></e7></e6></doc>"#
            ),
            r#"<doc><e1></e1><e2></e2><e3 id="elem3" name="elem3"></e3><e5 xmlns="http://example.org" xmlns:a="http://www.w3.org" xmlns:b="http://www.ietf.org" attr="I'm" attr2="all" b:attr="sorted" a:attr="out"></e5><e6 xmlns:a="http://www.w3.org"><e7 xmlns="http://www.ietf.org"><e8 xmlns=""><e9 xmlns:a="http://www.ietf.org"></e9></e8></e7></e6></doc>"#
        );
        // 3.4 character modifications and references.
        assert_eq!(
            c14n(
                "<doc><text>First line&#x0d;&#10;Second line</text><value>&#x32;</value><compute><![CDATA[value>\"0\" && value<\"10\" ?\"valid\":\"error\"]]></compute><norm attr=' &apos;   &#x20;&#13;&#xa;&#9;   &apos; '/></doc>"
            ),
            "<doc><text>First line&#xD;\nSecond line</text><value>2</value><compute>value&gt;\"0\" &amp;&amp; value&lt;\"10\" ?\"valid\":\"error\"</compute><norm attr=\" '    &#xD;&#xA;&#x9;   ' \"></norm></doc>"
        );
    }

    #[test]
    fn subsets_carry_their_inherited_namespaces() {
        let doc = parse(
            br#"<r xmlns="urn:d" xmlns:a="urn:a"><s xmlns:b="urn:b"><b:t a:x="1"/></s><u/></r>"#,
        )
        .unwrap();
        let s = doc.elements().next().unwrap();
        assert_eq!(
            String::from_utf8(canonicalize(s, &|_| false)).unwrap(),
            r#"<s xmlns="urn:d" xmlns:a="urn:a" xmlns:b="urn:b"><b:t a:x="1"></b:t></s>"#
        );
        assert_eq!(
            String::from_utf8(canonicalize(&doc, &|e| e.local == "s")).unwrap(),
            r#"<r xmlns="urn:d" xmlns:a="urn:a"><u></u></r>"#
        );
    }

    #[test]
    fn rejects_what_it_does_not_canonicalize() {
        for bad in [
            "<!DOCTYPE r [<!ENTITY e \"x\">]><r>&e;</r>",
            "<r><?pi x?></r>",
            "<r>&unknown;</r>",
            "<r><a></b></r>",
            "<r a='1' a='2'/>",
            "<p:r/>",
            "<r/><r/>",
            "<r>",
            "text<r/>",
        ] {
            assert!(parse(bad.as_bytes()).is_err(), "{bad}");
        }
        let deep = "<a>".repeat(MAX_DEPTH + 1) + &"</a>".repeat(MAX_DEPTH + 1);
        assert!(parse(deep.as_bytes()).is_err());
    }
}
