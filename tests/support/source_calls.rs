//! The crate's own source read with the Rust parser (`syn`): the argument-less
//! method calls it makes (`.list_tasks()`, as an AWS SDK operation is called),
//! the string literals it holds, and the variables it reads with `env::var`.
//!
//! Comments, doc comments and the insides of string literals are never code to
//! the parser, so nothing in them is found. A macro's arguments are parsed as
//! expressions where they are expressions (`tokio::join!(a.b(), c.d())`,
//! `format!("{}", x.y())`), and otherwise read token by token (`tokio::select!`,
//! `macro_rules!`, `tracing::info!(%x.y(), …)`): a `.` then a name then `()`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use proc_macro2::{Delimiter, TokenStream, TokenTree};
use syn::punctuated::Punctuated;
use syn::visit::{self, Visit};
use syn::{Expr, ExprCall, ExprLit, ExprMethodCall, Lit, Meta, Token};

/// What a Rust source file (or a block's statements) holds.
#[derive(Debug, Default)]
pub struct Source {
    /// Every argument-less method call `.name()`: name, line, column.
    calls: Vec<(String, usize, usize)>,
    /// Every string literal outside comments and doc comments.
    strings: Vec<String>,
    /// The literal first argument of every `env::var("…")` / `env::var_os("…")`.
    env_reads: Vec<String>,
    /// Every identifier (paths, names, macro tokens).
    idents: BTreeSet<String>,
}

impl Source {
    /// Parses `text`: a whole file, or else the statements of a block.
    pub fn parse(text: &str) -> syn::Result<Source> {
        let mut source = Source::default();
        match syn::parse_file(text) {
            Ok(file) => source.visit_file(&file),
            Err(not_a_file) => {
                let statements = syn::parse::Parser::parse_str(syn::Block::parse_within, text)
                    .map_err(|_| not_a_file)?;
                for statement in &statements {
                    source.visit_stmt(statement);
                }
            }
        }
        source
            .calls
            .sort_by_key(|(_, line, column)| (*line, *column));
        Ok(source)
    }

    /// Reads and parses the file at `path`; a file that does not parse is an error.
    pub fn read(path: &Path) -> Source {
        let text =
            std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        Source::parse(&text).unwrap_or_else(|e| {
            let at = e.span().start();
            panic!("{}:{}:{}: {e}", path.display(), at.line, at.column + 1)
        })
    }

    /// Every argument-less method call, in the order of the source: (name, line).
    pub fn calls(&self) -> Vec<(String, usize)> {
        self.calls
            .iter()
            .map(|(name, line, _)| (name.clone(), *line))
            .collect()
    }

    /// Every string literal, comments and doc comments left out.
    pub fn strings(&self) -> &[String] {
        &self.strings
    }

    /// The variables read by name with `env::var("…")` or `env::var_os("…")`.
    pub fn env_reads(&self) -> &[String] {
        &self.env_reads
    }

    /// Whether the code names `ident` (a crate such as `aws_sdk_ecs`, a type, a
    /// variable) anywhere.
    pub fn names(&self, ident: &str) -> bool {
        self.idents.contains(ident)
    }

    /// A method name as SDK operations are spelled: lower-case snake case.
    fn is_operation_like(name: &str) -> bool {
        name.starts_with(|c: char| c.is_ascii_lowercase())
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    }

    fn call(&mut self, name: &proc_macro2::Ident) {
        let name_text = name.to_string();
        if Source::is_operation_like(&name_text) {
            let at = name.span().start();
            self.calls.push((name_text, at.line, at.column));
        }
    }

    fn string(&mut self, literal: &proc_macro2::Literal) {
        if let Lit::Str(s) = Lit::new(literal.clone()) {
            self.strings.push(s.value());
        }
    }

    /// Tokens no parse could make sense of: `.` `name` `()` is a call, and every
    /// literal and identifier counts but those of doc comments (`#[doc = "…"]`).
    fn tokens(&mut self, tokens: TokenStream) {
        let trees: Vec<TokenTree> = tokens.into_iter().collect();
        let is_doc = |tree: Option<&TokenTree>| match tree {
            Some(TokenTree::Group(g)) if g.delimiter() == Delimiter::Bracket => matches!(
                g.stream().into_iter().next(),
                Some(TokenTree::Ident(name)) if name == "doc"
            ),
            _ => false,
        };
        let mut skip = 0;
        for (i, tree) in trees.iter().enumerate() {
            if skip > 0 {
                skip -= 1;
                continue;
            }
            match tree {
                TokenTree::Punct(hash) if hash.as_char() == '#' => {
                    let bang =
                        matches!(trees.get(i + 1), Some(TokenTree::Punct(p)) if p.as_char() == '!');
                    let at = i + 1 + usize::from(bang);
                    if is_doc(trees.get(at)) {
                        skip = at - i;
                    }
                }
                TokenTree::Group(group) => self.tokens(group.stream()),
                TokenTree::Ident(ident) => {
                    self.idents.insert(ident.to_string());
                }
                TokenTree::Literal(literal) => self.string(literal),
                TokenTree::Punct(dot) if dot.as_char() == '.' => {
                    if let (Some(TokenTree::Ident(name)), Some(TokenTree::Group(args))) =
                        (trees.get(i + 1), trees.get(i + 2))
                    {
                        if args.delimiter() == Delimiter::Parenthesis && args.stream().is_empty() {
                            self.call(name);
                        }
                    }
                }
                TokenTree::Punct(_) => {}
            }
        }
    }
}

impl<'ast> Visit<'ast> for Source {
    fn visit_expr_method_call(&mut self, call: &'ast ExprMethodCall) {
        if call.args.is_empty() && call.turbofish.is_none() {
            self.call(&call.method);
        }
        visit::visit_expr_method_call(self, call);
    }

    fn visit_expr_call(&mut self, call: &'ast ExprCall) {
        if let Expr::Path(function) = &*call.func {
            let path: Vec<String> = function
                .path
                .segments
                .iter()
                .map(|s| s.ident.to_string())
                .collect();
            let reads_env = matches!(
                path.as_slice(),
                [.., env, var] if env == "env" && (var == "var" || var == "var_os")
            );
            if let (
                true,
                Some(Expr::Lit(ExprLit {
                    lit: Lit::Str(name),
                    ..
                })),
            ) = (reads_env, call.args.first())
            {
                self.env_reads.push(name.value());
            }
        }
        visit::visit_expr_call(self, call);
    }

    fn visit_lit_str(&mut self, literal: &'ast syn::LitStr) {
        self.strings.push(literal.value());
    }

    fn visit_ident(&mut self, ident: &'ast proc_macro2::Ident) {
        self.idents.insert(ident.to_string());
    }

    /// A doc comment is a `#[doc = "…"]` to the parser: a comment all the same.
    fn visit_attribute(&mut self, attribute: &'ast syn::Attribute) {
        if attribute.path().is_ident("doc") {
            return;
        }
        visit::visit_attribute(self, attribute);
        if let Meta::List(list) = &attribute.meta {
            self.tokens(list.tokens.clone());
        }
    }

    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        visit::visit_macro(self, mac);
        match mac.parse_body_with(Punctuated::<Expr, Token![,]>::parse_terminated) {
            Ok(arguments) => {
                for argument in &arguments {
                    self.visit_expr(argument);
                }
            }
            Err(_) => self.tokens(mac.tokens.clone()),
        }
    }
}

/// Every argument-less method call in `text` (a file, or a block's statements),
/// in source order: (name, line).
pub fn method_calls(text: &str) -> Vec<(String, usize)> {
    Source::parse(text)
        .unwrap_or_else(|e| panic!("not Rust ({e}):\n{text}"))
        .calls()
}

/// The `.rs` files under `dir`, sorted.
pub fn rust_files(dir: &Path) -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(dir, &mut files);
    files.sort();
    files
}
