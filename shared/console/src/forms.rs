//! Forms: the posted fields, and each action's form turned into the JSON body its API route takes. No rule
//! lives here: the API parses and checks the body (and names the field at fault).

use std::collections::BTreeMap;

use lambda_http::http::Method;
use serde_json::{Value, json};

/// A posted `application/x-www-form-urlencoded` form (repeated names keep every value).
#[derive(Debug, Default, Clone)]
pub struct Form(BTreeMap<String, Vec<String>>);

impl Form {
    pub fn parse(body: &[u8]) -> Form {
        let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (k, v) in form_urlencoded::parse(body) {
            map.entry(k.into_owned()).or_default().push(v.into_owned());
        }
        Form(map)
    }

    /// The first value, trimmed; `None` when absent or blank.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).and_then(|v| v.first()).map(|s| s.trim()).filter(|s| !s.is_empty())
    }

    pub fn text(&self, name: &str) -> String {
        self.get(name).unwrap_or_default().to_owned()
    }

    pub fn checked(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    pub fn all(&self, name: &str) -> Vec<String> {
        self.0.get(name).cloned().unwrap_or_default()
    }
}

/// A Brazilian amount as typed (`1.234,56`, `149,90`, `149.90`) in the API's notation (`1234.56`).
pub fn money(typed: &str) -> String {
    let t = typed.trim().trim_start_matches("R$").trim();
    if t.contains(',') { t.replace('.', "").replace(',', ".") } else { t.to_owned() }
}

/// A discount as the API takes it, from a kind (`value` | `percent`; blank: none) and the typed amount or
/// percentage (Brazilian notation accepted); `None` when no kind or no amount is given.
pub fn discount(kind: Option<&str>, typed: Option<&str>) -> Option<Value> {
    let typed = money(typed?);
    match kind? {
        "percent" => Some(json!({"type": "percent", "percent": typed})),
        _ => Some(json!({"type": "value", "value": typed})),
    }
}

/// A number of days as typed: a number when it is one, else the text (the API names the field at fault).
fn days(typed: &str) -> Value {
    typed.parse::<u64>().map_or_else(|_| json!(typed), |n| json!(n))
}

/// The whole quote's discount of a lines editor's form (`discount_type`, `discount_value`).
pub fn quote_discount(form: &Form, prefix: &str) -> Option<Value> {
    discount(form.get(&format!("{prefix}discount_type")), form.get(&format!("{prefix}discount_value")))
}

/// The quote lines of a lines editor (`kind_i`, `code_i`, `description_i`, `ncm_i`, `quantity_i`,
/// `unit_price_i`, `discount_type_i` + `discount_i`, `warranty_days_i`); rows without a description are left
/// out.
pub fn lines(form: &Form, prefix: &str) -> Vec<Value> {
    let mut out = Vec::new();
    for i in 0..crate::pages::MAX_LINE_ROWS {
        let f = |name: &str| form.get(&format!("{prefix}{name}_{i}")).map(str::to_owned);
        let Some(description) = f("description") else { continue };
        let mut line = json!({
            "kind": f("kind").unwrap_or_else(|| "labor".into()),
            "description": description,
            "quantity": money(&f("quantity").unwrap_or_else(|| "1".into())),
            "unit_price": money(&f("unit_price").unwrap_or_default()),
        });
        if let Some(code) = f("code") {
            line["code"] = json!(code);
        }
        if let Some(ncm) = f("ncm") {
            line["ncm"] = json!(ncm);
        }
        if let Some(d) = discount(f("discount_type").as_deref(), f("discount").as_deref()) {
            line["discount"] = d;
        }
        if let Some(w) = f("warranty_days") {
            line["warranty_days"] = days(&w);
        }
        out.push(line);
    }
    out
}

fn optional(form: &Form, name: &str) -> Value {
    form.get(name).map_or(Value::Null, |v| json!(v))
}

/// The API route (method, path under the order) and body of an action's form; `None` for an unknown action.
pub fn action_request(action: &str, form: &Form) -> Option<(Method, &'static str, Value)> {
    let empty = json!({});
    Some(match action {
        "send_quote" => (Method::POST, "quote/send", empty),
        "revise_quote" => {
            let mut body = json!({"items": lines(form, "")});
            if let Some(d) = form.get("due_date") {
                body["due_date"] = json!(d);
            }
            if let Some(d) = quote_discount(form, "") {
                body["discount"] = d;
            }
            (Method::PUT, "quote", body)
        }
        "decide_quote" => {
            let decision = form.get("decision").unwrap_or("approve");
            let mut body = json!({"decision": decision});
            if let Some(c) = form.get("comment") {
                body["comment"] = json!(c);
            }
            if let Some(r) = form.get("revision").and_then(|r| r.parse::<u32>().ok()) {
                body["revision"] = json!(r);
            }
            // Per-line decisions (a flow with per-line approval): `line_<n>` = approve | reject, with an approval.
            let lines: Vec<Value> = (1..=crate::pages::MAX_LINE_ROWS as u32)
                .filter_map(|n| form.get(&format!("line_{n}")).map(|d| json!({"line": n, "decision": d})))
                .collect();
            if decision == "approve" && !lines.is_empty() {
                body["lines"] = json!(lines);
            }
            (Method::POST, "quote/decision", body)
        }
        "start" => (Method::POST, "start", empty),
        "add_note" => (
            Method::POST,
            "notes",
            json!({"text": form.text("text"), "visible_to_customer": form.checked("visible_to_customer")}),
        ),
        "wait_material" => {
            let parts: Vec<String> =
                form.text("parts").lines().map(str::trim).filter(|p| !p.is_empty()).map(str::to_owned).collect();
            (
                Method::POST,
                "material/wait",
                json!({"reason": form.text("reason"), "parts": parts, "expected_at": optional(form, "expected_at")}),
            )
        }
        "change_material_date" => (Method::PATCH, "material", json!({"expected_at": optional(form, "expected_at")})),
        "resume" => (Method::POST, "material/arrived", empty),
        "finish" => (Method::POST, "finish", json!({"tests_performed": optional(form, "tests_performed")})),
        "validate" => {
            let mut checklist = Vec::new();
            for i in 0..crate::pages::MAX_CHECK_ROWS {
                if let Some(item) = form.get(&format!("item_{i}")) {
                    let mut entry = json!({"item": item, "ok": form.checked(&format!("ok_{i}"))});
                    if let Some(note) = form.get(&format!("note_{i}")) {
                        entry["note"] = json!(note);
                    }
                    checklist.push(entry);
                }
            }
            (Method::POST, "validation", json!({"checklist": checklist, "extra_items": lines(form, "extra_")}))
        }
        "request_payment" => (Method::POST, "payment/request", empty),
        "register_payment" => {
            let mut body = json!({"amount": money(&form.text("amount")), "method": form.text("method")});
            if let Some(r) = form.get("reference") {
                body["reference"] = json!(r);
            }
            (Method::POST, "payments", body)
        }
        "retry_invoice" => (Method::POST, "invoices/retry", empty),
        "release" => (Method::POST, "release", empty),
        "close" => (Method::POST, "close", empty),
        "cancel" => (Method::POST, "cancel", json!({"reason": form.text("reason")})),
        "move" => (Method::POST, "move", json!({"to": form.text("to")})),
        _ => return None,
    })
}

/// The customer's address fields of the opening form (`address_<field>`), as the API names them.
pub const ADDRESS_FIELDS: [&str; 8] = ["zip", "street", "number", "complement", "district", "city", "city_code", "uf"];

/// The customer's fields of a form (`customer_name`, `customer_document`, `customer_email`, `customer_phone`,
/// `address_<field>`) as the API's customer.
pub fn customer(form: &Form) -> Value {
    let mut customer = json!({"name": form.text("customer_name"), "document": form.text("customer_document")});
    if let Some(e) = form.get("customer_email") {
        customer["email"] = json!(e);
    }
    if let Some(p) = form.get("customer_phone") {
        customer["phone"] = json!(p);
    }
    // The address goes when any of its fields is filled (the API then names what is missing).
    let mut address = serde_json::Map::new();
    for field in ADDRESS_FIELDS {
        if let Some(v) = form.get(&format!("address_{field}")) {
            address.insert(field.to_owned(), json!(v));
        }
    }
    if !address.is_empty() {
        customer["address"] = Value::Object(address);
    }
    customer
}

/// The equipment's fields of a form (`equipment_description`, `equipment_brand`, `equipment_model`,
/// `equipment_serial`) as the API's equipment.
pub fn equipment(form: &Form) -> Value {
    let mut equipment = json!({"description": form.text("equipment_description")});
    for (field, name) in [("brand", "equipment_brand"), ("model", "equipment_model"), ("serial", "equipment_serial")] {
        if let Some(v) = form.get(name) {
            equipment[field] = json!(v);
        }
    }
    equipment
}

/// The opening form as `POST /v1/orders` takes it.
pub fn open_request(form: &Form) -> Value {
    let mut body = json!({
        "customer": customer(form),
        "equipment": equipment(form),
        "service": {"type": form.text("service_type"), "reported_problem": form.text("reported_problem")},
        "items": lines(form, ""),
    });
    if let Some(d) = form.get("due_date") {
        body["due_date"] = json!(d);
    }
    if let Some(t) = form.get("technician") {
        body["technician"] = json!(t);
    }
    if let Some(d) = quote_discount(form, "") {
        body["discount"] = d;
    }
    if let Some(intake) = intake(form) {
        body["intake"] = intake;
    }
    body
}

/// What was received at the counter (`intake_accessories`, one a line; `intake_condition`;
/// `intake_unlock_code`), as the API's `intake`; `None` when nothing was typed.
pub fn intake(form: &Form) -> Option<Value> {
    let accessories: Vec<String> =
        form.text("intake_accessories").lines().map(str::trim).filter(|a| !a.is_empty()).map(str::to_owned).collect();
    let mut intake = serde_json::Map::new();
    if !accessories.is_empty() {
        intake.insert("accessories".into(), json!(accessories));
    }
    if let Some(c) = form.get("intake_condition") {
        intake.insert("condition".into(), json!(c));
    }
    // The code as typed (spaces may be part of it): only its emptiness is looked at here.
    if let Some(code) = form.0.get("intake_unlock_code").and_then(|v| v.first()).filter(|c| !c.is_empty()) {
        intake.insert("unlock_code".into(), json!(code));
    }
    (!intake.is_empty()).then_some(Value::Object(intake))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_as_brazilians_type_them() {
        assert_eq!(money("1.234,56"), "1234.56");
        assert_eq!(money("R$ 149,90"), "149.90");
        assert_eq!(money("149.90"), "149.90");
    }

    #[test]
    fn the_opening_form_carries_the_address_when_it_is_filled() {
        let bare = open_request(&Form::parse(b"customer_name=Maria&customer_document=52998224725"));
        assert!(bare["customer"].get("address").is_none());
        let form = Form::parse(
            "customer_name=Maria&address_zip=01305-000&address_street=Rua+Augusta&address_number=100&\
             address_complement=&address_district=Consola%C3%A7%C3%A3o&address_city=S%C3%A3o+Paulo&\
             address_city_code=3550308&address_uf=SP"
                .as_bytes(),
        );
        assert_eq!(
            open_request(&form)["customer"]["address"],
            json!({"zip": "01305-000", "street": "Rua Augusta", "number": "100", "district": "Consolação",
                   "city": "São Paulo", "city_code": "3550308", "uf": "SP"})
        );
    }

    #[test]
    fn per_line_decisions_go_with_an_approval() {
        let form = Form::parse(b"decision=approve&revision=2&line_1=approve&line_2=reject");
        let (_, path, body) = action_request("decide_quote", &form).unwrap();
        assert_eq!(path, "quote/decision");
        assert_eq!(
            body,
            json!({"decision": "approve", "revision": 2,
                   "lines": [{"line": 1, "decision": "approve"}, {"line": 2, "decision": "reject"}]})
        );
        let (_, _, body) = action_request("decide_quote", &Form::parse(b"decision=reject&line_1=approve")).unwrap();
        assert_eq!(body, json!({"decision": "reject"}));
    }

    #[test]
    fn discounts_warranty_and_intake_are_the_apis_fields() {
        let form = Form::parse(
            "description_0=Fonte&kind_0=part&unit_price_0=149%2C90&discount_type_0=value&discount_0=9%2C90&\
             warranty_days_0=180&description_1=Reparo&unit_price_1=120&discount_type_1=&discount_1=5&\
             discount_type=percent&discount_value=12%2C5&intake_accessories=Carregador%0D%0A%0D%0ACapa&\
             intake_condition=Tela+riscada&intake_unlock_code=+12+34"
                .as_bytes(),
        );
        let body = open_request(&form);
        assert_eq!(body["items"][0]["discount"], json!({"type": "value", "value": "9.90"}));
        assert_eq!(body["items"][0]["warranty_days"], json!(180));
        assert!(body["items"][1].get("discount").is_none(), "no kind, no discount");
        assert_eq!(body["discount"], json!({"type": "percent", "percent": "12.5"}));
        assert_eq!(
            body["intake"],
            json!({"accessories": ["Carregador", "Capa"], "condition": "Tela riscada", "unlock_code": " 12 34"})
        );
        assert!(open_request(&Form::parse(b"customer_name=Maria")).get("intake").is_none());
        let (_, _, revised) = action_request("revise_quote", &form).unwrap();
        assert_eq!(revised["discount"], body["discount"]);
    }

    #[test]
    fn a_payment_form_is_the_apis_body() {
        let form = Form::parse(b"amount=100%2C00&method=pix&reference=&csrf=x");
        let (method, path, body) = action_request("register_payment", &form).unwrap();
        assert_eq!((method, path), (Method::POST, "payments"));
        assert_eq!(body, json!({"amount": "100.00", "method": "pix"}));
        assert!(action_request("drop_table", &form).is_none());
    }
}
