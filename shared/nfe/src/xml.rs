//! A small XML tree (parsed with quick-xml) and an inclusive Canonical XML 1.0 serializer,
//! used to verify documents (simulator) and to read SEFAZ responses. Comments are dropped
//! (C14N without comments); a DOCTYPE is refused (SEFAZ refuses it too, and it keeps entity
//! expansion out).

use std::collections::BTreeMap;

use quick_xml::Reader;
use quick_xml::events::Event;

use crate::text::{push_attr, push_text};

/// An XML parse error with a position.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("XML not well-formed at byte {pos}: {msg}")]
pub struct XmlError {
    pub pos: u64,
    pub msg: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    Elem(Element),
    Text(String),
    Pi(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    /// Qualified name as written.
    pub name: String,
    /// Attributes as written (qualified names), namespace declarations included.
    pub attrs: Vec<(String, String)>,
    pub children: Vec<Node>,
    /// Byte range of the element in the parsed text.
    pub span: (usize, usize),
}

impl Element {
    pub fn local_name(&self) -> &str {
        self.name.rsplit(':').next().unwrap_or(&self.name)
    }
    pub fn prefix(&self) -> &str {
        match self.name.find(':') {
            Some(i) => &self.name[..i],
            None => "",
        }
    }
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
    pub fn elements(&self) -> impl Iterator<Item = &Element> {
        self.children.iter().filter_map(|c| match c {
            Node::Elem(e) => Some(e),
            _ => None,
        })
    }
    /// First child element with this local name.
    pub fn child(&self, local: &str) -> Option<&Element> {
        self.elements().find(|e| e.local_name() == local)
    }
    /// Follows a path of local names.
    pub fn path(&self, path: &[&str]) -> Option<&Element> {
        let mut e = self;
        for p in path {
            e = e.child(p)?;
        }
        Some(e)
    }
    /// Concatenated text content of the element (direct text children).
    pub fn text(&self) -> String {
        let mut s = String::new();
        for c in &self.children {
            if let Node::Text(t) = c {
                s.push_str(t);
            }
        }
        s
    }
    /// Text of the child at `path`, if present.
    pub fn text_at(&self, path: &[&str]) -> Option<String> {
        self.path(path).map(|e| e.text())
    }
    /// Namespace declarations made on this element (prefix "" = default).
    fn ns_decls(&self) -> impl Iterator<Item = (&str, &str)> {
        self.attrs.iter().filter_map(|(k, v)| {
            if k == "xmlns" { Some(("", v.as_str())) } else { k.strip_prefix("xmlns:").map(|p| (p, v.as_str())) }
        })
    }
}

fn err(pos: u64, msg: impl Into<String>) -> XmlError {
    XmlError { pos, msg: msg.into() }
}

fn attr_value(raw: &[u8], pos: u64) -> Result<String, XmlError> {
    let s = std::str::from_utf8(raw).map_err(|_| err(pos, "attribute is not UTF-8"))?;
    // Attribute-value normalization (XML 1.0 §3.3.3) for CDATA attributes: literal
    // whitespace characters become spaces; character references survive.
    let norm: String = s.replace("\r\n", " ").replace(['\t', '\n', '\r'], " ");
    quick_xml::escape::unescape(&norm).map(|c| c.into_owned()).map_err(|e| err(pos, format!("attribute: {e}")))
}

/// Parses a whole document and returns its root element.
pub fn parse(doc: &str) -> Result<Element, XmlError> {
    let mut r = Reader::from_str(doc);
    r.config_mut().expand_empty_elements = true;
    r.config_mut().check_end_names = true;
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    loop {
        let pos = r.buffer_position();
        let ev = r.read_event().map_err(|e| err(pos, e.to_string()))?;
        match ev {
            Event::Start(s) => {
                if root.is_some() {
                    return Err(err(pos, "content after the root element"));
                }
                let name =
                    std::str::from_utf8(s.name().as_ref()).map_err(|_| err(pos, "name is not UTF-8"))?.to_owned();
                let mut attrs = Vec::new();
                for a in s.attributes() {
                    let a = a.map_err(|e| err(pos, e.to_string()))?;
                    let k = std::str::from_utf8(a.key.as_ref())
                        .map_err(|_| err(pos, "attribute name is not UTF-8"))?
                        .to_owned();
                    attrs.push((k, attr_value(&a.value, pos)?));
                }
                stack.push(Element { name, attrs, children: Vec::new(), span: (pos as usize, 0) });
            }
            Event::End(_) => {
                let mut e = stack.pop().ok_or_else(|| err(pos, "unexpected end tag"))?;
                e.span.1 = r.buffer_position() as usize;
                match stack.last_mut() {
                    Some(p) => p.children.push(Node::Elem(e)),
                    None => root = Some(e),
                }
            }
            Event::Empty(_) => return Err(err(pos, "unexpected empty element event")),
            Event::Text(t) => {
                let s = t.xml10_content().map_err(|e| err(pos, e.to_string()))?;
                push_text_node(&mut stack, &s, pos)?;
            }
            Event::CData(c) => {
                let s = c.xml10_content().map_err(|e| err(pos, e.to_string()))?;
                push_text_node(&mut stack, &s, pos)?;
            }
            Event::GeneralRef(g) => {
                let c = match g.resolve_char_ref().map_err(|e| err(pos, e.to_string()))? {
                    Some(c) => c,
                    None => match g.decode().map_err(|e| err(pos, e.to_string()))?.as_ref() {
                        "amp" => '&',
                        "lt" => '<',
                        "gt" => '>',
                        "quot" => '"',
                        "apos" => '\'',
                        other => return Err(err(pos, format!("undefined entity &{other};"))),
                    },
                };
                let mut b = [0u8; 4];
                push_text_node(&mut stack, c.encode_utf8(&mut b), pos)?;
            }
            Event::Comment(_) => {}
            Event::Decl(_) => {
                if pos != 0 && !doc[..pos as usize].trim_start_matches('\u{feff}').is_empty() {
                    return Err(err(pos, "XML declaration not at the start"));
                }
            }
            Event::PI(p) => {
                if let Some(e) = stack.last_mut() {
                    let s = String::from_utf8_lossy(&p).into_owned();
                    e.children.push(Node::Pi(s));
                }
            }
            Event::DocType(_) => return Err(err(pos, "DOCTYPE is not allowed")),
            Event::Eof => break,
        }
    }
    if !stack.is_empty() {
        return Err(err(doc.len() as u64, "unclosed element"));
    }
    root.ok_or_else(|| err(0, "no root element"))
}

fn push_text_node(stack: &mut [Element], s: &str, pos: u64) -> Result<(), XmlError> {
    match stack.last_mut() {
        Some(e) => {
            if let Some(Node::Text(t)) = e.children.last_mut() {
                t.push_str(s);
            } else {
                e.children.push(Node::Text(s.to_owned()));
            }
            Ok(())
        }
        None if s.trim().is_empty() => Ok(()),
        None => Err(err(pos, "text outside the root element")),
    }
}

/// In-scope namespace declarations (prefix -> URI).
pub type Scope = BTreeMap<String, String>;

/// The namespaces in scope at `path.last()` excluding its own declarations, given the
/// chain of ancestors `path[..len-1]`.
pub fn scope_of(ancestors: &[&Element]) -> Scope {
    let mut s = Scope::new();
    for a in ancestors {
        for (p, u) in a.ns_decls() {
            s.insert(p.to_owned(), u.to_owned());
        }
    }
    s
}

/// Finds the first element (depth-first) matching `pred`, returning the chain
/// root..=element.
pub fn find_path<'a>(root: &'a Element, pred: &dyn Fn(&Element) -> bool) -> Option<Vec<&'a Element>> {
    if pred(root) {
        return Some(vec![root]);
    }
    for c in root.elements() {
        if let Some(mut p) = find_path(c, pred) {
            p.insert(0, root);
            return Some(p);
        }
    }
    None
}

/// Namespace URI of an element given the scope in effect on it (own declarations included).
pub fn ns_uri(e: &Element, inherited: &Scope) -> Option<String> {
    let p = e.prefix();
    for (dp, u) in e.ns_decls() {
        if dp == p {
            return Some(u.to_owned());
        }
    }
    inherited.get(p).cloned().filter(|u| !u.is_empty())
}

/// Inclusive Canonical XML 1.0 (without comments) of the subtree rooted at `e`, whose
/// ancestors declare `inherited`.
pub fn c14n(e: &Element, inherited: &Scope) -> String {
    let mut out = String::with_capacity(e.span.1.saturating_sub(e.span.0) + 256);
    c14n_into(&mut out, e, inherited, &Scope::new());
    out
}

fn c14n_into(out: &mut String, e: &Element, parent_scope: &Scope, rendered: &Scope) {
    let mut scope = parent_scope.clone();
    for (p, u) in e.ns_decls() {
        scope.insert(p.to_owned(), u.to_owned());
    }
    out.push('<');
    out.push_str(&e.name);
    // Namespace nodes: sorted by prefix, the default one first (BTreeMap order: "" first).
    for (p, u) in &scope {
        let before = rendered.get(p).map(String::as_str).unwrap_or("");
        if p.is_empty() {
            if u.as_str() == before {
                continue;
            }
        } else if rendered.get(p) == Some(u) {
            continue;
        }
        if p.is_empty() {
            out.push_str(" xmlns=\"");
        } else {
            out.push_str(" xmlns:");
            out.push_str(p);
            out.push_str("=\"");
        }
        push_attr(out, u);
        out.push('"');
    }
    // Attributes sorted by (namespace URI, local name); unqualified ones have no namespace.
    let mut attrs: Vec<(String, &str, &str, &str)> = e
        .attrs
        .iter()
        .filter(|(k, _)| k != "xmlns" && !k.starts_with("xmlns:"))
        .map(|(k, v)| match k.split_once(':') {
            Some((p, l)) => {
                let uri = if p == "xml" {
                    "http://www.w3.org/XML/1998/namespace".to_owned()
                } else {
                    scope.get(p).cloned().unwrap_or_default()
                };
                (uri, l, k.as_str(), v.as_str())
            }
            None => (String::new(), k.as_str(), k.as_str(), v.as_str()),
        })
        .collect();
    attrs.sort_by(|a, b| (a.0.as_str(), a.1).cmp(&(b.0.as_str(), b.1)));
    for (_, _, k, v) in attrs {
        out.push(' ');
        out.push_str(k);
        out.push_str("=\"");
        push_attr(out, v);
        out.push('"');
    }
    out.push('>');
    for c in &e.children {
        match c {
            Node::Elem(ch) => c14n_into(out, ch, &scope, &scope),
            Node::Text(t) => push_text(out, t),
            Node::Pi(p) => {
                out.push_str("<?");
                out.push_str(p);
                out.push_str("?>");
            }
        }
    }
    out.push_str("</");
    out.push_str(&e.name);
    out.push('>');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonicalizes_a_subtree_with_inherited_namespaces() {
        let doc = "<?xml version=\"1.0\"?>\n<a:r xmlns:a=\"urn:a\" xmlns=\"urn:d\"><!-- c -->\
                   <x z=\"1\" b:y=\"2\" xmlns:b=\"urn:b\" a=\"t&#9;&#10;\r\n&amp;\"><e/><f xmlns=\"urn:d\">1 &lt; 2 &#xD;</f>\
                   <g xmlns=\"\">&gt;</g></x></a:r>";
        let root = parse(doc).unwrap();
        let path = find_path(&root, &|e| e.name == "x").unwrap();
        let s = c14n(path[1], &scope_of(&path[..1]));
        assert_eq!(
            s,
            "<x xmlns=\"urn:d\" xmlns:a=\"urn:a\" xmlns:b=\"urn:b\" a=\"t&#x9;&#xA; &amp;\" z=\"1\" b:y=\"2\">\
             <e></e><f>1 &lt; 2 &#xD;</f><g xmlns=\"\">&gt;</g></x>"
        );
    }

    #[test]
    fn refuses_doctype_and_malformed_input() {
        assert!(parse("<!DOCTYPE x [<!ENTITY e \"boom\">]><x>&e;</x>").is_err());
        assert!(parse("<a><b></a>").is_err());
        assert!(parse("<a>&nope;</a>").is_err());
        assert!(parse("<a></a><b></b>").is_err());
    }
}
