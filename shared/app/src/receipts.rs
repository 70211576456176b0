//! The printed OS, in Portuguese: the entry receipt (what the shop received, the reported problem, the estimate,
//! the terms, signature lines) and the delivery receipt with the warranty term (each line's warranty with its
//! dates). Pure: an order and the company's settings in, PDF bytes out (A4, on osflow-pdf).

use chrono::NaiveDate;
use osflow_domain::{LineKind, Order, QuoteRevision, RevisionStatus};
use osflow_pdf::{A4_HEIGHT_MM, Align, Document, Font, Page, wrap};

use crate::ports::CompanySettings;
use crate::templates::brl;

/// The terms printed on the entry receipt when the company has none of its own.
pub const DEFAULT_ENTRY_TERMS: &str = "O orçamento será enviado para aprovação antes de qualquer serviço. \
Equipamentos não retirados em até 90 dias após o aviso de conclusão poderão ser considerados abandonados, \
nos termos da lei. A empresa não se responsabiliza por dados não copiados pelo cliente.";

/// The warranty term printed on the delivery receipt when the company has none of its own.
pub const DEFAULT_WARRANTY_TERMS: &str = "A garantia cobre defeitos das peças trocadas e dos serviços executados \
nesta OS, pelos prazos de cada item contados da data de entrega (Código de Defesa do Consumidor, art. 26). \
Não cobre mau uso, quedas, líquidos, violação do lacre ou serviços de terceiros. Para usar a garantia, \
apresente este termo.";

const LEFT: f32 = 15.0;
const WIDTH: f32 = 180.0;
const BOTTOM: f32 = A4_HEIGHT_MM - 15.0;

/// A page cursor: text flows down and a new page starts when the current one is full.
struct Writer {
    doc: Document,
    page: Page,
    y: f32,
    title: String,
}

impl Writer {
    fn new(title: &str) -> Writer {
        Writer { doc: Document::new(title), page: Page::new(), y: 15.0, title: title.to_owned() }
    }

    fn room(&mut self, mm: f32) {
        if self.y + mm > BOTTOM {
            let full = std::mem::take(&mut self.page);
            self.doc.push(full);
            self.y = 15.0;
            self.page.text(LEFT, self.y, Font::Regular, 7.0, &format!("{} (continuação)", self.title));
            self.y += 6.0;
        }
    }

    fn heading(&mut self, s: &str) {
        self.room(10.0);
        self.y += 3.0;
        self.page.fill(LEFT, self.y - 3.6, WIDTH, 5.0, 0.88);
        self.page.text(LEFT + 1.0, self.y, Font::Bold, 9.0, s);
        self.y += 5.0;
    }

    fn line(&mut self, font: Font, size: f32, s: &str) {
        for l in wrap(font, size, s, WIDTH) {
            self.room(size * 0.5);
            self.page.text(LEFT, self.y, font, size, &l);
            self.y += size * 0.45;
        }
    }

    fn field(&mut self, label: &str, value: &str) {
        self.line(Font::Regular, 9.0, &format!("{label}: {value}"));
    }

    fn row(&mut self, cells: &[(f32, Align, &str)], font: Font) {
        self.room(5.0);
        let mut x = LEFT;
        for (w, align, s) in cells {
            self.page.text_in(x, self.y, *w, *align, font, 8.0, s);
            x += w;
        }
        self.y += 4.2;
    }

    fn signatures(&mut self, left: &str, right: &str) {
        self.room(25.0);
        self.y += 16.0;
        self.page.line(LEFT, self.y, LEFT + 80.0, self.y, 0.2);
        self.page.line(LEFT + 100.0, self.y, LEFT + 180.0, self.y, 0.2);
        self.y += 4.0;
        self.page.text_in(LEFT, self.y, 80.0, Align::Center, Font::Regular, 8.0, left);
        self.page.text_in(LEFT + 100.0, self.y, 80.0, Align::Center, Font::Regular, 8.0, right);
        self.y += 6.0;
    }

    fn finish(mut self) -> Vec<u8> {
        let last = std::mem::take(&mut self.page);
        self.doc.push(last);
        self.doc.finish()
    }
}

fn date(d: NaiveDate) -> String {
    d.format("%d/%m/%Y").to_string()
}

fn header(w: &mut Writer, settings: &CompanySettings, company: &str, title: &str, order: &Order) {
    w.page.rect(LEFT, w.y - 5.0, WIDTH, 18.0, 0.3);
    w.page.text(LEFT + 2.0, w.y, Font::Bold, 12.0, company);
    if let Some(doc) = &settings.company_document {
        w.page.text(LEFT + 2.0, w.y + 5.0, Font::Regular, 8.0, &format!("CNPJ/CPF: {doc}"));
    }
    w.page.text_in(LEFT, w.y, WIDTH - 2.0, Align::Right, Font::Bold, 12.0, &format!("OS nº {}", order.number));
    w.page.text_in(
        LEFT,
        w.y + 5.0,
        WIDTH - 2.0,
        Align::Right,
        Font::Regular,
        8.0,
        &format!("Aberta em {}", date(osflow_domain::report::report_day(order.created_at))),
    );
    w.page.text_in(LEFT, w.y + 10.5, WIDTH, Align::Center, Font::Bold, 10.0, title);
    w.y += 19.0;
}

fn customer_and_equipment(w: &mut Writer, order: &Order) {
    let c = &order.customer;
    w.heading("Cliente");
    w.field("Nome", &c.name);
    w.field("CPF/CNPJ", &c.document.to_string());
    if let Some(p) = &c.phone {
        w.field("Telefone", &p.to_string());
    }
    if let Some(e) = &c.email {
        w.field("E-mail", e.as_str());
    }
    let e = &order.equipment;
    w.heading("Equipamento");
    w.field("Descrição", &e.description);
    let brand_model = [e.brand.as_deref(), e.model.as_deref()].into_iter().flatten().collect::<Vec<_>>().join(" ");
    if !brand_model.is_empty() {
        w.field("Marca/modelo", &brand_model);
    }
    if let Some(s) = &e.serial {
        w.field("Número de série", s);
    }
}

fn quote_table(w: &mut Writer, rev: &QuoteRevision) {
    let widths = [92.0, 16.0, 24.0, 22.0, 26.0];
    let head = ["Item", "Qtd.", "Unitário", "Desconto", "Total"];
    w.row(&widths.iter().zip(head).map(|(w, h)| (*w, Align::Left, h)).collect::<Vec<_>>(), Font::Bold);
    for l in &rev.lines {
        let kind = match l.kind {
            LineKind::Part => "Peça",
            LineKind::Labor => "Serviço",
        };
        let (desc, qty, unit, disc, net) = (
            format!("{kind}: {}", l.description),
            l.quantity.to_string().replace('.', ","),
            brl(l.unit_price),
            if l.discount_total.is_zero() { String::new() } else { format!("- {}", brl(l.discount_total)) },
            brl(l.net()),
        );
        w.row(
            &[
                (widths[0], Align::Left, &desc),
                (widths[1], Align::Right, &qty),
                (widths[2], Align::Right, &unit),
                (widths[3], Align::Right, &disc),
                (widths[4], Align::Right, &net),
            ],
            Font::Regular,
        );
    }
    if !rev.discount_total.is_zero() {
        let (sub, disc) = (brl(rev.subtotal()), format!("- {}", brl(rev.discount_total)));
        w.row(&[(154.0, Align::Right, "Subtotal"), (26.0, Align::Right, &sub)], Font::Regular);
        w.row(&[(154.0, Align::Right, "Descontos"), (26.0, Align::Right, &disc)], Font::Regular);
    }
    let total = brl(rev.total);
    w.row(&[(154.0, Align::Right, "Total"), (26.0, Align::Right, &total)], Font::Bold);
}

/// The entry receipt: handed over when the equipment is left at the counter.
pub fn entry_receipt(order: &Order, settings: &CompanySettings, company: &str) -> Vec<u8> {
    let title = format!("Recibo de entrada - OS nº {}", order.number);
    let mut w = Writer::new(&title);
    header(&mut w, settings, company, "RECIBO DE ENTRADA DE EQUIPAMENTO", order);
    customer_and_equipment(&mut w, order);
    w.heading("Recebimento");
    match &order.intake {
        Some(i) if !i.accessories.is_empty() => w.field("Acessórios deixados", &i.accessories.join(", ")),
        _ => w.field("Acessórios deixados", "nenhum"),
    }
    let condition = order.intake.as_ref().and_then(|i| i.condition.as_deref()).unwrap_or("não informado");
    w.field("Estado do equipamento", condition);
    let photos: Vec<&str> =
        order.attachments.iter().filter(|a| a.intake).map(|a| a.caption.as_deref().unwrap_or("sem legenda")).collect();
    if !photos.is_empty() {
        w.field("Fotos de entrada", &format!("{} ({})", photos.len(), photos.join("; ")));
    }
    if let Some(link) = &order.warranty_of {
        w.field("Retorno em garantia da OS nº", &link.number.to_string());
    }
    w.heading("Problema relatado");
    w.line(Font::Regular, 9.0, &order.service.reported_problem);
    if let Some(rev) = order.main_revision().filter(|r| !r.lines.is_empty()) {
        w.heading(&format!("Orçamento (versão {})", rev.revision));
        quote_table(&mut w, rev);
        if let Some(d) = rev.due_date.or(order.due_date) {
            w.field("Previsão de entrega", &date(d));
        }
    }
    w.heading("Termos");
    w.line(Font::Regular, 8.0, settings.entry_terms.as_deref().unwrap_or(DEFAULT_ENTRY_TERMS));
    w.signatures("Assinatura do cliente", &format!("Recebido por {company}"));
    w.finish()
}

/// The delivery receipt with the warranty term: handed over when the equipment is released.
pub fn delivery_receipt(order: &Order, settings: &CompanySettings, company: &str) -> Vec<u8> {
    let title = format!("Recibo de entrega - OS nº {}", order.number);
    let mut w = Writer::new(&title);
    header(&mut w, settings, company, "RECIBO DE ENTREGA E TERMO DE GARANTIA", order);
    customer_and_equipment(&mut w, order);
    w.heading("Serviço");
    if let Some(d) = order.released_on() {
        w.field("Entregue em", &date(d));
    }
    if let Some(t) = &order.tests_performed {
        w.field("Testes realizados", t);
    }
    w.field("Valor pago", &brl(order.amount_paid()));
    w.heading("Garantia por item");
    let widths = [100.0, 20.0, 30.0, 30.0];
    let head = ["Item", "Prazo", "Início", "Válida até"];
    w.row(&widths.iter().zip(head).map(|(w, h)| (*w, Align::Left, h)).collect::<Vec<_>>(), Font::Bold);
    let warranties = order.warranties();
    for wty in &warranties {
        let (desc, days, from, until) =
            (wty.line.description.clone(), format!("{} dias", wty.days), date(wty.from), date(wty.until));
        w.row(
            &[
                (widths[0], Align::Left, &desc),
                (widths[1], Align::Right, &days),
                (widths[2], Align::Right, &from),
                (widths[3], Align::Right, &until),
            ],
            Font::Regular,
        );
    }
    let approved = order.quote.iter().filter(|r| r.status == RevisionStatus::Approved).count();
    if warranties.is_empty() {
        w.line(
            Font::Regular,
            9.0,
            if order.released_at.is_none() {
                "A garantia começa na entrega do equipamento."
            } else if approved == 0 {
                "Nenhum item aprovado."
            } else {
                "Os itens desta OS não têm garantia."
            },
        );
    }
    w.heading("Termo de garantia");
    w.line(Font::Regular, 8.0, settings.warranty_terms.as_deref().unwrap_or(DEFAULT_WARRANTY_TERMS));
    w.signatures("Recebi o equipamento: assinatura do cliente", &format!("Entregue por {company}"));
    w.finish()
}
