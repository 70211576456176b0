//! The frame of every HTML page osflow serves, the staff console's (osflow-console) and the customer's page
//! (osflow-portal): the doctype, the language (pt-BR) and what every page's head holds (UTF-8, a phone's
//! viewport, no indexing by search engines), around each page's own head (its title, styles and scripts) and
//! body. Each front end keeps its own pages, styles and frame inside the body.

use maud::{DOCTYPE, Markup, html};

/// A pt-BR page: the common head, then the page's own `head` (title, styles, scripts), and its `body`.
pub fn page(head: Markup, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="pt-BR" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="robots" content="noindex, nofollow";
                (head)
            }
            body { (body) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_holds_the_common_head_then_its_own() {
        let page = page(html! { title { "Título" } }, html! { main { "corpo" } }).into_string();
        assert_eq!(
            page,
            "<!DOCTYPE html><html lang=\"pt-BR\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <meta name=\"robots\" content=\"noindex, nofollow\"><title>Título</title></head>\
             <body><main>corpo</main></body></html>"
        );
    }
}
