//! Preset dictionaries of the packed attributes ([`crate::packed::pack_with`]): deflate finds the repeats of a
//! value in its dictionary as in the value itself, so the field names, enums and number shapes every order and
//! every saved response repeat cost almost nothing. Each is the JSON of its kind with the values blanked (no
//! customer's data). A dictionary is part of the stored format: items name theirs by their attribute
//! ([`crate::items::attr::BODY_D1`]), so changing one means a new attribute name, never new bytes under the old
//! one (a test pins their checksums).

/// The order item's body (the order's JSON without tenant, id and version).
pub(crate) const ORDER: &str = concat!(
    r#"{"attachments":[],"checklist":[{"item":"","ok":true}],"created_at":"2026-01-01T00:00:00.000000000Z","customer""#,
    r#":{"address":{"city":"","city_code":"","district":"","number":"","street":"","uf":"","zip":""},"document":"","e"#,
    r#"mail":"","name":"","phone":""},"customer_id":"01900000-0000-7000-8000-000000000000","due_date":"2026-01-01","e"#,
    r#"quipment":{"brand":"","description":"","model":"","serial":""},"equipment_id":"01900000-0000-7000-8000-0000000"#,
    r#"00000","flow_version":1,"invoices":[],"material":{"expected_at":"2026-01-01","parts":[],"reason":"","since":"2"#,
    r#"026-01-01T00:00:00.000000000Z"},"notes":[{"at":"2026-01-01T00:00:00.000000000Z","text":"","visible_to_customer"#,
    r#"":true}],"notifications":[],"number":1,"payments":[{"amount":"0.00","at":"2026-01-01T00:00:00.000000000Z","met"#,
    r#"hod":"pix","seq":1}],"quote":[{"approved_total":"0.00","created_at":"2026-01-01T00:00:00.000000000Z","decided_"#,
    r#"at":"2026-01-01T00:00:00.000000000Z","due_date":"2026-01-01","labor_total":"0.00","lines":[{"code":"","decisio"#,
    r#"n":"approve","description":"","kind":"part","line":1,"ncm":"","quantity":"1","total":"0.00","unit_price":"0.00"#,
    r#"","warranty_days":90},{"code":"","decision":"approve","description":"","kind":"labor","line":2,"quantity":"1","#,
    r#""total":"0.00","unit_price":"0.00","warranty_days":90}],"parts_total":"0.00","revision":1,"sent_at":"2026-01-0"#,
    r#"1T00:00:00.000000000Z","status":"approved","supplementary":false,"total":"0.00"}],"released_at":"2026-01-01T00"#,
    r#":00:00.000000000Z","service":{"reported_problem":"","type":"reparo"},"status":"encerrada","status_since":"2026"#,
    r#"-01-01T00:00:00.000000000Z","tests_performed":"","updated_at":"2026-01-01T00:00:00.000000000Z"}"#,
);

/// A saved response: the order view every step answers.
pub(crate) const RESPONSE: &str = concat!(
    r#"{"id":"01900000-0000-7000-8000-000000000000","number":1,"status":"aguardando_material","status_label":"","stat"#,
    r#"us_since":"2026-01-01T00:00:00.000000000Z","version":6,"flow_version":1,"customer":{"name":"","document":"","d"#,
    r#"ocument_type":"CPF","document_formatted":"","email":"","phone":"","address":{"street":"","number":"","compleme"#,
    r#"nt":null,"district":"","city":"","city_code":"","uf":"","zip":""}},"equipment":{"description":"","brand":"","m"#,
    r#"odel":"","serial":""},"service":{"type":"reparo","reported_problem":""},"due_date":"2026-01-01","technician":n"#,
    r#"ull,"quote":{"revision":1,"supplementary":false,"status":"approved","lines":[{"line":1,"kind":"part","code":"""#,
    r#","description":"","ncm":"","quantity":"1","unit_price":"0.00","total":"0.00","discount":null,"warranty_days":9"#,
    r#"0,"discount_total":"0.00","net":"0.00","decision":"approve"},{"line":2,"kind":"labor","code":"","description":"#,
    r#""","ncm":null,"quantity":"1","unit_price":"0.00","total":"0.00","discount":null,"warranty_days":90,"discount_t"#,
    r#"otal":"0.00","net":"0.00","decision":"approve"}],"discount":null,"subtotal":"0.00","discount_total":"0.00","pa"#,
    r#"rts_total":"0.00","labor_total":"0.00","total":"0.00","approved_total":"0.00","due_date":"2026-01-01","created"#,
    r#"_at":"2026-01-01T00:00:00.000000000Z","sent_at":"2026-01-01T00:00:00.000000000Z","decided_at":"2026-01-01T00:0"#,
    r#"0:00.000000000Z","customer_comment":null},"quote_revisions":[{"revision":1,"supplementary":false,"status":"app"#,
    r#"roved","lines":[{"line":1,"kind":"part","code":"","description":"","ncm":"","quantity":"1","unit_price":"0.00""#,
    r#","total":"0.00","discount":null,"warranty_days":90,"discount_total":"0.00","net":"0.00","decision":"approve"},"#,
    r#"{"line":2,"kind":"labor","code":"","description":"","ncm":null,"quantity":"1","unit_price":"0.00","total":"0.0"#,
    r#"0","discount":null,"warranty_days":90,"discount_total":"0.00","net":"0.00","decision":"approve"}],"discount":n"#,
    r#"ull,"subtotal":"0.00","discount_total":"0.00","parts_total":"0.00","labor_total":"0.00","total":"0.00","approv"#,
    r#"ed_total":"0.00","due_date":"2026-01-01","created_at":"2026-01-01T00:00:00.000000000Z","sent_at":"2026-01-01T0"#,
    r#"0:00:00.000000000Z","decided_at":"2026-01-01T00:00:00.000000000Z","customer_comment":null}],"payments":[],"amo"#,
    r#"unt_due":"0.00","amount_paid":"0.00","balance":"0.00","refunds":[],"checklist":[],"notes":[{"text":"","visible"#,
    r#"_to_customer":true,"at":"2026-01-01T00:00:00.000000000Z"}],"attachments":[],"material":{"reason":"","parts":[""#,
    r#""],"expected_at":"2026-01-01","since":"2026-01-01T00:00:00.000000000Z"},"tests_performed":null,"invoice":null,"#,
    r#""invoices":[],"cancel_reason":null,"customer_id":"01900000-0000-7000-8000-000000000000","equipment_id":"019000"#,
    r#"00-0000-7000-8000-000000000000","intake":null,"released_at":null,"warranties":[],"warranty_of":null,"warranty_"#,
    r#"returns":[],"created_at":"2026-01-01T00:00:00.000000000Z","updated_at":"2026-01-01T00:00:00.000000000Z"}"#,
);
