//! PDF primitives for the documents osflow prints (the DANFE, later the OS receipts): A4 portrait pages laid out in
//! millimetres from the top-left corner, text in the standard Helvetica faces with WinAnsiEncoding, boxes, lines,
//! CODE-128 barcodes and QR codes (drawn as filled rectangles: no image to embed).
//!
//! The fonts are the PDF standard ones (every reader has them, nothing to embed): WinAnsi covers the Latin-1
//! printable range U+0020–U+007E and U+00A0–U+00FF, which is exactly what the fiscal documents may contain
//! (the NF-e's `TString`). Any other character is written as `?`. Text widths come from the Helvetica metrics
//! (AFM, in 1/1000 em), so text can be fitted, aligned and wrapped.

use pdf_writer::{Content, Finish, Name, Pdf, Rect, Ref, Str, TextStr};

/// A4 portrait, in millimetres.
pub const A4_WIDTH_MM: f32 = 210.0;
pub const A4_HEIGHT_MM: f32 = 297.0;
const PT_PER_MM: f32 = 72.0 / 25.4;

/// The two faces used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Font {
    Regular,
    Bold,
}

impl Font {
    fn resource(self) -> Name<'static> {
        match self {
            Font::Regular => Name(b"F1"),
            Font::Bold => Name(b"F2"),
        }
    }
}

/// Horizontal alignment of a text in a box.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    Left,
    Center,
    Right,
}

/// A barcode could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("barcode: {0}")]
pub struct BarcodeError(pub String);

fn base_letter(c: char) -> char {
    match c {
        'À'..='Å' => 'A',
        'Ç' => 'C',
        'È'..='Ë' => 'E',
        'Ì'..='Ï' => 'I',
        'Ñ' => 'N',
        'Ò'..='Ö' | 'Ø' => 'O',
        'Ù'..='Ü' => 'U',
        'Ý' => 'Y',
        'à'..='å' => 'a',
        'ç' => 'c',
        'è'..='ë' => 'e',
        'ì'..='ï' => 'i',
        'ñ' => 'n',
        'ò'..='ö' | 'ø' => 'o',
        'ù'..='ü' => 'u',
        'ý' | 'ÿ' => 'y',
        other => other,
    }
}

/// Helvetica / Helvetica-Bold advance widths (1/1000 em) of U+0020..U+007E (the Adobe AFM files).
const HELVETICA: [u16; 95] = [
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278, 556, 556, 556, 556, 556, 556, 556,
    556, 556, 556, 278, 278, 584, 584, 584, 556, 1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833,
    722, 778, 667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469, 556, 333, 556, 556, 500, 556,
    556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556, 556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334,
    260, 334, 584,
];
const HELVETICA_BOLD: [u16; 95] = [
    278, 333, 474, 556, 556, 889, 722, 238, 333, 333, 389, 584, 278, 333, 278, 278, 556, 556, 556, 556, 556, 556, 556,
    556, 556, 556, 333, 333, 584, 584, 584, 611, 975, 722, 722, 722, 722, 667, 611, 778, 722, 278, 556, 722, 611, 833,
    722, 778, 667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 333, 278, 333, 584, 556, 333, 556, 611, 556, 611,
    556, 333, 611, 611, 278, 278, 556, 278, 889, 611, 611, 611, 611, 389, 556, 333, 611, 556, 778, 556, 556, 500, 389,
    280, 389, 584,
];

fn char_width(font: Font, c: char) -> u16 {
    let table = match font {
        Font::Regular => &HELVETICA,
        Font::Bold => &HELVETICA_BOLD,
    };
    let b = base_letter(c) as u32;
    if (0x20..0x7F).contains(&b) { table[(b - 0x20) as usize] } else { 556 }
}

/// Width of `s` in millimetres at `size` points.
pub fn text_width(font: Font, size: f32, s: &str) -> f32 {
    let units: u32 = s.chars().map(|c| u32::from(char_width(font, c))).sum();
    units as f32 / 1000.0 * size / PT_PER_MM
}

/// `s` cut (with "...") to fit `max_mm`.
pub fn fit(font: Font, size: f32, s: &str, max_mm: f32) -> String {
    if text_width(font, size, s) <= max_mm {
        return s.to_owned();
    }
    let mut out: String = s.to_owned();
    while !out.is_empty() && text_width(font, size, &format!("{out}...")) > max_mm {
        out.pop();
    }
    format!("{}...", out.trim_end())
}

/// `s` broken into lines of at most `max_mm` (at spaces; a word longer than a line is cut).
pub fn wrap(font: Font, size: f32, s: &str, max_mm: f32) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in s.split_whitespace() {
        let candidate = if line.is_empty() { word.to_owned() } else { format!("{line} {word}") };
        if text_width(font, size, &candidate) <= max_mm {
            line = candidate;
            continue;
        }
        if !line.is_empty() {
            lines.push(std::mem::take(&mut line));
        }
        line = if text_width(font, size, word) <= max_mm { word.to_owned() } else { fit(font, size, word, max_mm) };
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// WinAnsi bytes of `s`: printable Latin-1 maps to itself, anything else to `?`.
fn win_ansi(s: &str) -> Vec<u8> {
    s.chars()
        .map(|c| match c as u32 {
            v @ (0x20..=0x7E | 0xA0..=0xFF) => v as u8,
            _ => b'?',
        })
        .collect()
}

/// One page being drawn. Coordinates in millimetres from the top-left corner.
pub struct Page {
    content: Content,
}

impl std::fmt::Debug for Page {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Page")
    }
}

impl Default for Page {
    fn default() -> Self {
        Page::new()
    }
}

fn pt(mm: f32) -> f32 {
    mm * PT_PER_MM
}

fn y_pt(mm_from_top: f32) -> f32 {
    pt(A4_HEIGHT_MM - mm_from_top)
}

impl Page {
    pub fn new() -> Page {
        Page { content: Content::new() }
    }

    /// Text with its baseline at `y` (from the top), starting at `x`.
    pub fn text(&mut self, x: f32, y: f32, font: Font, size: f32, s: &str) {
        self.content.set_fill_gray(0.0);
        self.content.begin_text();
        self.content.set_font(font.resource(), size);
        self.content.next_line(pt(x), y_pt(y));
        self.content.show(Str(&win_ansi(s)));
        self.content.end_text();
    }

    /// Text aligned inside `[x, x + w]`, cut to fit.
    #[allow(clippy::too_many_arguments)] // a position, a box width and the text's style, as PDF text operators take
    pub fn text_in(&mut self, x: f32, y: f32, w: f32, align: Align, font: Font, size: f32, s: &str) {
        let s = fit(font, size, s, w);
        let width = text_width(font, size, &s);
        let x = match align {
            Align::Left => x,
            Align::Center => x + (w - width) / 2.0,
            Align::Right => x + w - width,
        };
        self.text(x, y, font, size, &s);
    }

    /// A rectangle's outline (`y` is its top edge).
    pub fn rect(&mut self, x: f32, y: f32, w: f32, h: f32, line_mm: f32) {
        self.content.set_stroke_gray(0.0);
        self.content.set_line_width(pt(line_mm));
        self.content.rect(pt(x), y_pt(y + h), pt(w), pt(h));
        self.content.stroke();
    }

    /// A filled rectangle (`gray` 0 = black, 1 = white).
    pub fn fill(&mut self, x: f32, y: f32, w: f32, h: f32, gray: f32) {
        self.content.set_fill_gray(gray);
        self.content.rect(pt(x), y_pt(y + h), pt(w), pt(h));
        self.content.fill_nonzero();
        self.content.set_fill_gray(0.0);
    }

    /// A straight line.
    pub fn line(&mut self, x1: f32, y1: f32, x2: f32, y2: f32, line_mm: f32) {
        self.content.set_stroke_gray(0.0);
        self.content.set_line_width(pt(line_mm));
        self.content.move_to(pt(x1), y_pt(y1));
        self.content.line_to(pt(x2), y_pt(y2));
        self.content.stroke();
    }

    /// A CODE-128 barcode of an even number of digits in character set C, filling `w` × `h` (quiet zones are the
    /// caller's margins).
    pub fn code128c(&mut self, x: f32, y: f32, w: f32, h: f32, digits: &str) -> Result<(), BarcodeError> {
        if digits.is_empty() || !digits.len().is_multiple_of(2) || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(BarcodeError("set C needs an even number of digits".into()));
        }
        let code = barcoders::sym::code128::Code128::new(format!("\u{0106}{digits}"))
            .map_err(|e| BarcodeError(format!("{e:?}")))?;
        let modules = code.encode();
        let module = w / modules.len() as f32;
        let mut i = 0;
        while i < modules.len() {
            if modules[i] == 1 {
                let start = i;
                while i < modules.len() && modules[i] == 1 {
                    i += 1;
                }
                self.content.set_fill_gray(0.0);
                self.content.rect(pt(x + start as f32 * module), y_pt(y + h), pt((i - start) as f32 * module), pt(h));
                self.content.fill_nonzero();
            } else {
                i += 1;
            }
        }
        Ok(())
    }
}

/// The quiet zone a QR code needs around it, in modules (ISO/IEC 18004).
pub const QR_QUIET_MODULES: f32 = 4.0;

impl Page {
    /// A QR code of `text` (error correction level M) whose symbol fills the `side` × `side` square at (`x`, `y`);
    /// the quiet zone of [`QR_QUIET_MODULES`] is the caller's margin. Dark modules are drawn as filled rectangles,
    /// one per horizontal run.
    pub fn qr(&mut self, x: f32, y: f32, side: f32, text: &str) -> Result<(), BarcodeError> {
        let code = qrcodegen::QrCode::encode_text(text, qrcodegen::QrCodeEcc::Medium)
            .map_err(|e| BarcodeError(format!("QR code: {e}")))?;
        let n = code.size();
        let module = side / n as f32;
        self.content.set_fill_gray(0.0);
        for row in 0..n {
            let mut col = 0;
            while col < n {
                if !code.get_module(col, row) {
                    col += 1;
                    continue;
                }
                let start = col;
                while col < n && code.get_module(col, row) {
                    col += 1;
                }
                let (mx, my) = (x + start as f32 * module, y + row as f32 * module);
                self.content.rect(pt(mx), y_pt(my + module), pt((col - start) as f32 * module), pt(module));
            }
        }
        self.content.fill_nonzero();
        Ok(())
    }
}

/// A PDF document of A4 portrait pages.
#[derive(Debug)]
pub struct Document {
    title: String,
    pages: Vec<Page>,
}

impl Document {
    pub fn new(title: &str) -> Document {
        Document { title: title.to_owned(), pages: Vec::new() }
    }

    pub fn push(&mut self, page: Page) {
        self.pages.push(page);
    }

    pub fn pages(&self) -> usize {
        self.pages.len()
    }

    /// The PDF bytes.
    pub fn finish(self) -> Vec<u8> {
        let mut pdf = Pdf::new();
        let catalog = Ref::new(1);
        let tree = Ref::new(2);
        let regular = Ref::new(3);
        let bold = Ref::new(4);
        let info = Ref::new(5);
        let first_page = 6;
        let ids: Vec<(Ref, Ref)> = (0..self.pages.len() as i32)
            .map(|i| (Ref::new(first_page + 2 * i), Ref::new(first_page + 2 * i + 1)))
            .collect();
        pdf.catalog(catalog).pages(tree);
        pdf.pages(tree).kids(ids.iter().map(|(p, _)| *p)).count(ids.len() as i32);
        pdf.type1_font(regular).base_font(Name(b"Helvetica")).encoding_predefined(Name(b"WinAnsiEncoding"));
        pdf.type1_font(bold).base_font(Name(b"Helvetica-Bold")).encoding_predefined(Name(b"WinAnsiEncoding"));
        pdf.document_info(info).title(TextStr(&self.title)).producer(TextStr("osflow"));
        for (page, (page_id, content_id)) in self.pages.into_iter().zip(&ids) {
            let mut p = pdf.page(*page_id);
            p.media_box(Rect::new(0.0, 0.0, pt(A4_WIDTH_MM), pt(A4_HEIGHT_MM)));
            p.parent(tree);
            p.contents(*content_id);
            let mut resources = p.resources();
            let mut fonts = resources.fonts();
            fonts.pair(Font::Regular.resource(), regular);
            fonts.pair(Font::Bold.resource(), bold);
            fonts.finish();
            resources.finish();
            p.finish();
            pdf.stream(*content_id, &page.content.finish());
        }
        pdf.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths_fit_and_wrap() {
        // "Helvetica 1000 units = 1 em": ten digits of 556 at 10 pt = 55.6 pt = 19.61 mm.
        assert!((text_width(Font::Regular, 10.0, "0123456789") - 19.614).abs() < 0.01);
        assert_eq!(text_width(Font::Bold, 10.0, "Ação"), text_width(Font::Bold, 10.0, "Acao"));
        let cut = fit(Font::Regular, 8.0, "PECA DE REPOSICAO MUITO LONGA PARA A COLUNA", 20.0);
        assert!(cut.ends_with("...") && text_width(Font::Regular, 8.0, &cut) <= 20.0, "{cut}");
        let lines = wrap(Font::Regular, 8.0, "uma frase que não cabe numa linha só de vinte milímetros", 20.0);
        assert!(lines.len() > 2 && lines.iter().all(|l| text_width(Font::Regular, 8.0, l) <= 20.0));
        assert_eq!(win_ansi("ção€"), vec![0xE7, 0xE3, b'o', b'?']);
    }

    #[test]
    fn qr_fits_or_says_it_does_not() {
        let mut p = Page::new();
        assert!(p.qr(0.0, 0.0, 20.0, "https://example.com/?chave=1").is_ok());
        assert!(p.qr(0.0, 0.0, 20.0, &"x".repeat(3000)).is_err());
    }

    #[test]
    fn code128c_needs_an_even_number_of_digits() {
        let mut p = Page::new();
        assert!(p.code128c(0.0, 0.0, 80.0, 10.0, "123").is_err());
        assert!(p.code128c(0.0, 0.0, 80.0, 10.0, "12a4").is_err());
        assert!(p.code128c(0.0, 0.0, 80.0, 10.0, "1234").is_ok());
    }
}
