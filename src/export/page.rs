//! The HTML page every report shares (run, comparison, capacity): `page.html.jinja` holds
//! the head (Content-Security-Policy: no script, no network), the shared CSS and the blocks a
//! report fills (`title`, `style`, `body`); [`render`] renders a report template that
//! extends it, with minijinja's HTML auto-escaping.

use minijinja::{AutoEscape, Environment};
use serde::Serialize;

use super::ExportError;

/// The base template, registered as `page.html`.
const BASE: &str = include_str!("page.html.jinja");

/// Renders `template` (which `{% extends "page.html" %}`) with `page` as its `page` value.
pub fn render<P: Serialize>(
    name: &'static str,
    template: &'static str,
    page: &P,
) -> Result<String, ExportError> {
    let mut env = Environment::new();
    env.set_auto_escape_callback(|_| AutoEscape::Html);
    let template_error = |e: minijinja::Error| ExportError::Template(e.to_string());
    env.add_template("page.html", BASE)
        .map_err(template_error)?;
    env.add_template(name, template).map_err(template_error)?;
    env.get_template(name)
        .and_then(|t| t.render(minijinja::context! { page => page }))
        .map_err(template_error)
}
