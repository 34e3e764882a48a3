//! The widget's JS and CSS as the browser gets them: without whole-line
//! comments and blank lines. The JSDoc that `tsc --checkJs` reads is a third of
//! the source, and the widget lives on someone else's page, where every byte
//! counts (the README's budgets).
//!
//! Only lines that *begin* (after indentation) with `/*`, or with `//` in
//! JavaScript, are taken for comments, up to the line that holds the closing
//! `*/`; code after a closing `*/` on the same line is kept. So no line of a
//! multi-line string (a template literal) in the widget's source may begin that
//! way.

/// `source` (a file named `name`) slimmed, if it is JavaScript or CSS; `None`
/// for any other file, which is served as it is.
pub fn slim(name: &str, source: &[u8]) -> Option<Vec<u8>> {
    let javascript = name.ends_with(".js") || name.ends_with(".mjs");
    // `//` starts no comment in CSS.
    (javascript || name.ends_with(".css")).then(|| without_comment_lines(source, javascript))
}

fn without_comment_lines(bytes: &[u8], line_comments: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut in_block = false;
    for line in bytes.split(|&b| b == b'\n') {
        let code = if in_block {
            match after_close(line) {
                // The opener was left out, so only what follows the close is code.
                Some(rest) => {
                    in_block = false;
                    rest
                }
                None => continue,
            }
        } else {
            let trimmed = line.trim_ascii_start();
            if let Some(comment) = trimmed.strip_prefix(b"/*") {
                match after_close(comment) {
                    // Code after a one-line comment: the line is kept whole.
                    Some(rest) if !rest.trim_ascii().is_empty() => line,
                    Some(_) => continue,
                    None => {
                        in_block = true;
                        continue;
                    }
                }
            } else if line_comments && trimmed.starts_with(b"//") {
                continue;
            } else {
                line
            }
        };
        if code.trim_ascii().is_empty() {
            continue;
        }
        out.extend_from_slice(code);
        out.push(b'\n');
    }
    out
}

/// What follows the first `*/` in `line`, if it holds one.
fn after_close(line: &[u8]) -> Option<&[u8]> {
    let at = line.windows(2).position(|w| w == b"*/")?;
    line.get(at + 2..)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slimmed(name: &str, source: &str) -> String {
        String::from_utf8(slim(name, source.as_bytes()).unwrap()).unwrap()
    }

    #[test]
    fn comment_lines_and_blank_lines_are_left_out() {
        let source = "// @ts-check\n/**\n * Doc.\n * @param {number} a\n */\nexport const a = 1; // kept: code first\n\n  /* one line */\n  const s = '// in a string';\n/* a\n   b */ \nx();\n";
        assert_eq!(
            slimmed("a.js", source),
            "export const a = 1; // kept: code first\n  const s = '// in a string';\nx();\n"
        );
    }

    #[test]
    fn code_after_a_closing_comment_is_kept() {
        assert_eq!(
            slimmed("a.js", "/* lint: off */ import x from './x.js';\n"),
            "/* lint: off */ import x from './x.js';\n"
        );
        assert_eq!(
            slimmed("a.js", "/**\n * Doc.\n */ export const b = 2;\nb();"),
            " export const b = 2;\nb();\n"
        );
    }

    #[test]
    fn css_keeps_what_only_javascript_calls_a_comment() {
        assert_eq!(
            slimmed("panel.css", "/* Panel. */\n.a { color: red }\n//x\n"),
            ".a { color: red }\n//x\n"
        );
        assert_eq!(slim("index.html", b"<!-- x -->\n"), None);
        assert_eq!(slim("en.json", b"{}\n"), None);
    }
}
