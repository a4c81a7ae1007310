//! A small reader over an `hcl-edit` body that keeps source positions, so that every problem is
//! reported with its line and column, and every key the schema does not know is reported too.

use std::collections::BTreeMap;
use std::ops::Range;
use std::time::Duration;

use hcl_edit::expr::Expression;
use hcl_edit::structure::{Attribute, Block, Body, Structure};
use hcl_edit::Span;

use super::error::ConfigIssue;

/// The text of the file, for turning byte offsets into line and column.
pub struct SourceText<'a> {
    text: &'a str,
}

impl<'a> SourceText<'a> {
    pub fn new(text: &'a str) -> Self {
        SourceText { text }
    }

    /// The text of a span, as written.
    pub fn slice(&self, span: Range<usize>) -> &'a str {
        &self.text[span.start.min(self.text.len())..span.end.min(self.text.len())]
    }

    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let before = &self.text[..offset.min(self.text.len())];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
        let column = before[line_start..].chars().count() + 1;
        (line, column)
    }
}

/// Collects the problems found while reading.
pub struct Issues<'a> {
    pub source: &'a SourceText<'a>,
    pub list: Vec<ConfigIssue>,
}

impl<'a> Issues<'a> {
    pub fn new(source: &'a SourceText<'a>) -> Self {
        Issues {
            source,
            list: Vec::new(),
        }
    }

    pub fn push(
        &mut self,
        span: Option<Range<usize>>,
        field: &str,
        problem: impl Into<String>,
        example: Option<String>,
    ) {
        let (line, column) = match span {
            Some(r) => {
                let (l, c) = self.source.line_col(r.start);
                (Some(l), Some(c))
            }
            None => (None, None),
        };
        self.list.push(ConfigIssue {
            line,
            column,
            field: field.to_string(),
            problem: problem.into(),
            example,
        });
    }
}

/// The attributes and blocks of one body, taken one by one; what is left at the end is unknown.
pub struct BodyReader<'b> {
    /// Where this body is, for messages: `pair "x" > primary`.
    path: String,
    /// Span of the block that owns the body, for "missing" problems.
    owner_span: Option<Range<usize>>,
    attrs: BTreeMap<String, &'b Attribute>,
    blocks: Vec<&'b Block>,
}

impl<'b> BodyReader<'b> {
    pub fn new(body: &'b Body, path: &str, owner_span: Option<Range<usize>>) -> Self {
        let mut attrs = BTreeMap::new();
        let mut blocks = Vec::new();
        for structure in body.iter() {
            match structure {
                Structure::Attribute(attr) => {
                    // The parser already refuses a key set twice, with its place.
                    attrs.insert(attr.key.as_str().to_string(), attr);
                }
                Structure::Block(block) => blocks.push(block),
            }
        }
        BodyReader {
            path: path.to_string(),
            owner_span,
            attrs,
            blocks,
        }
    }

    pub fn path(&self) -> &str {
        &self.path
    }

    pub fn owner_span(&self) -> Option<Range<usize>> {
        self.owner_span.clone()
    }

    /// Where `key` is set, if it is (it stays to be read or reported).
    pub fn attribute_span(&self, key: &str) -> Option<Option<Range<usize>>> {
        let attr = self.attrs.get(key)?;
        Some(attr.key.span().or(attr.span()))
    }

    /// A whole number in `range` (a count); None when absent or wrong (reported).
    pub fn count(
        &mut self,
        key: &str,
        range: std::ops::RangeInclusive<u64>,
        example: &str,
        issues: &mut Issues,
    ) -> Option<u64> {
        let attr = self.attrs.remove(key)?;
        let n = match &attr.value {
            Expression::Number(n) => n.value().as_u64(),
            _ => None,
        };
        match n {
            Some(n) if range.contains(&n) => Some(n),
            _ => {
                issues.push(
                    attr.value.span(),
                    &join(&self.path, key),
                    format!(
                        "must be a whole number from {} to {}",
                        range.start(),
                        range.end()
                    ),
                    Some(example.to_string()),
                );
                None
            }
        }
    }

    /// A string attribute. `example` is how a right value is written, for messages.
    pub fn string(
        &mut self,
        key: &str,
        example: &str,
        issues: &mut Issues,
    ) -> Option<Located<String>> {
        let attr = self.attrs.remove(key)?;
        match literal_string(&attr.value) {
            Some(s) => Some(Located {
                value: s,
                span: attr.value.span(),
            }),
            None => {
                issues.push(
                    attr.value.span(),
                    &join(&self.path, key),
                    "must be a quoted string with no interpolation",
                    Some(example.to_string()),
                );
                None
            }
        }
    }

    /// A list of quoted strings (`["a", "b"]`); None when absent or wrong (reported).
    pub fn string_list(
        &mut self,
        key: &str,
        example: &str,
        issues: &mut Issues,
    ) -> Option<Located<Vec<String>>> {
        let attr = self.attrs.remove(key)?;
        let items = match &attr.value {
            Expression::Array(items) => {
                items.iter().map(literal_string).collect::<Option<Vec<_>>>()
            }
            _ => None,
        };
        match items {
            Some(value) => Some(Located {
                value,
                span: attr.value.span(),
            }),
            None => {
                issues.push(
                    attr.value.span(),
                    &join(&self.path, key),
                    "must be a list of quoted strings",
                    Some(example.to_string()),
                );
                None
            }
        }
    }

    /// A required string attribute: reports it missing.
    pub fn required_string(
        &mut self,
        key: &str,
        example: &str,
        issues: &mut Issues,
    ) -> Option<Located<String>> {
        if !self.attrs.contains_key(key) {
            issues.push(
                self.owner_span.clone(),
                &join(&self.path, key),
                format!("{key} is missing"),
                Some(example.to_string()),
            );
            return None;
        }
        self.string(key, example, issues)
    }

    /// A duration attribute such as `"5s"` or `"30m"`; `default` when absent.
    pub fn duration(
        &mut self,
        key: &str,
        default: Duration,
        issues: &mut Issues,
    ) -> Option<Duration> {
        if !self.attrs.contains_key(key) {
            return Some(default);
        }
        let example = format!("{key} = \"{}\"", humantime::format_duration(default));
        let located = self.string(key, &example, issues)?;
        match humantime::parse_duration(located.value.trim()) {
            Ok(d) if d.is_zero() => {
                issues.push(
                    located.span,
                    &join(&self.path, key),
                    "must be longer than zero",
                    Some(example),
                );
                None
            }
            Ok(d) => Some(d),
            Err(e) => {
                issues.push(
                    located.span,
                    &join(&self.path, key),
                    format!("{:?} is not a duration ({e})", located.value),
                    Some(example),
                );
                None
            }
        }
    }

    /// Takes every block with this identifier.
    pub fn blocks(&mut self, ident: &str) -> Vec<&'b Block> {
        let (taken, rest): (Vec<&Block>, Vec<&Block>) = self
            .blocks
            .drain(..)
            .partition(|b| b.ident.as_str() == ident);
        self.blocks = rest;
        taken
    }

    /// Takes the one block with this identifier; reports a second one.
    pub fn single_block(&mut self, ident: &str, issues: &mut Issues) -> Option<&'b Block> {
        let mut found = self.blocks(ident).into_iter();
        let first = found.next();
        for extra in found {
            issues.push(
                extra.span(),
                &join(&self.path, ident),
                format!("only one {ident} block is allowed; merge the two"),
                None,
            );
        }
        first
    }

    /// Reports every attribute and block that was not taken.
    pub fn finish(self, known: &[&str], issues: &mut Issues) {
        let expected = if known.is_empty() {
            "this block takes no other keys".to_string()
        } else {
            format!("expected one of: {}", known.join(", "))
        };
        for (key, attr) in self.attrs {
            issues.push(
                attr.key.span().or(attr.span()),
                &join(&self.path, &key),
                format!(
                    "unknown key {key:?}{}; {expected}",
                    did_you_mean(&key, known)
                ),
                None,
            );
        }
        for block in self.blocks {
            let ident = block.ident.as_str();
            issues.push(
                block.ident.span().or(block.span()),
                &join(&self.path, ident),
                format!(
                    "unknown block {ident:?}{}; {expected}",
                    did_you_mean(ident, known)
                ),
                None,
            );
        }
    }
}

/// ", did you mean \"poll_interval\"?" for a key a typo away from a known one.
fn did_you_mean(key: &str, known: &[&str]) -> String {
    known
        .iter()
        .map(|k| (strsim::damerau_levenshtein(k, key), *k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 4))
        .min()
        .map(|(_, k)| format!(", did you mean {k:?}?"))
        .unwrap_or_default()
}

/// A value with the place it came from.
pub struct Located<T> {
    pub value: T,
    pub span: Option<Range<usize>>,
}

fn literal_string(expr: &Expression) -> Option<String> {
    match expr {
        Expression::String(s) => Some(s.as_str().to_string()),
        _ => None,
    }
}

pub fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path} > {key}")
    }
}
