//! The console's files, embedded in the binary at build time.

/// The single page (`GET /console`).
pub const INDEX_HTML: &str = include_str!("assets/index.html");

/// `(name, content type, body)` of every file under `/console/assets/`.
pub const FILES: &[(&str, &str, &str)] = &[
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/app.js"),
    ),
    (
        "app.css",
        "text/css; charset=utf-8",
        include_str!("assets/app.css"),
    ),
    ("icon.svg", "image/svg+xml", include_str!("assets/icon.svg")),
];

/// The file called `name`, with its content type.
pub fn file(name: &str) -> Option<(&'static str, &'static str)> {
    FILES
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(_, content_type, body)| (*content_type, *body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_inline_script_or_style_and_no_remote_assets() {
        assert!(!INDEX_HTML.contains("<style"));
        assert!(!INDEX_HTML.contains(" style="));
        assert!(!INDEX_HTML.contains(" on"), "no inline event handlers");
        for line in INDEX_HTML.lines().filter(|l| l.contains("<script")) {
            assert!(line.contains("src=\"/console/assets/"), "{line}");
        }
        for (_, _, body) in FILES {
            assert!(
                !body.contains("http://") && !body.contains("https://") || body.contains("http://www.w3.org")
            );
        }
        assert!(file("app.js").is_some() && file("../mod.rs").is_none());
    }
}
