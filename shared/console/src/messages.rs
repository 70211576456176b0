//! The API's refusals as the console's users read them, in Portuguese. The API's titles and most of its details
//! are Portuguese already; the details that come from the domain's value parsers, its field checks, the flow's
//! validation and the JSON parser are English (they are logged and read by integrators), so the console words
//! them again here from the problem's members (`type`, `field`, `action`, `status`, `guard`) and the known texts.
//! A detail this table does not know is not shown in English: the field's name and "valor inválido" are.

use osflow_domain::Guard;
use serde_json::Value;

use crate::pages::{action_label, guard_label};

/// The problem answer of the API (`application/problem+json`) as one Portuguese sentence.
pub fn problem_text(body: &Value) -> String {
    let title = body["title"].as_str().unwrap_or("Não foi possível concluir");
    let kind = body["type"].as_str().unwrap_or_default().rsplit('/').next().unwrap_or_default();
    let field = body["field"].as_str();
    let detail = body["detail"].as_str();
    let action = body["action"].as_str().map(action_label);
    let text = match kind {
        "not-allowed-in-status" => Some(match action {
            Some(a) => format!("«{a}» não é possível no status atual da OS"),
            None => "esta ação não é possível no status atual da OS".to_owned(),
        }),
        "forbidden" => Some(match action {
            Some(a) => format!("o seu papel não permite «{a}»"),
            None => "o seu papel não permite esta operação".to_owned(),
        }),
        "guard-failed" => {
            let guard = body["guard"].as_str().and_then(guard_of).map(guard_label);
            Some(match (action, guard) {
                (Some(a), Some(g)) => format!("«{a}» depende de: {g}"),
                (_, Some(g)) => format!("depende de: {g}"),
                _ => "uma condição da etapa não foi atendida".to_owned(),
            })
        }
        "invalid-flow" | "unknown-status" => detail.map(flow_detail),
        _ => detail.map(value_detail),
    };
    let field = field.map(field_label).map(|f| format!(" ({f})")).unwrap_or_default();
    match text {
        Some(t) => format!("{title}{field}: {t}."),
        None => format!("{title}{field}."),
    }
}

fn guard_of(name: &str) -> Option<Guard> {
    serde_json::from_value(Value::String(name.to_owned())).ok()
}

/// A field path of a request body (`items[1].unit_price`) in words (`item 2 do orçamento, preço unitário`).
pub fn field_label(path: &str) -> String {
    let mut parts = Vec::new();
    for segment in path.split('.') {
        let (name, index) = match segment.split_once('[') {
            Some((n, rest)) => (n, rest.trim_end_matches(']').parse::<usize>().ok()),
            None => (segment, None),
        };
        let word = match name {
            "customer" => "cliente",
            "name" => "nome",
            "document" => "CPF/CNPJ",
            "email" => "e-mail",
            "phone" => "telefone",
            "address" => "endereço",
            "street" => "logradouro",
            "number" => "número",
            "complement" => "complemento",
            "district" => "bairro",
            "city" => "cidade",
            "city_code" => "código IBGE da cidade",
            "uf" => "UF",
            "zip" => "CEP",
            "equipment" => "equipamento",
            "description" => "descrição",
            "brand" => "marca",
            "model" => "modelo",
            "serial" => "nº de série",
            "service" => "serviço",
            "type" => "tipo",
            "reported_problem" => "problema relatado",
            "items" => "item do orçamento",
            "extra_items" => "item extra",
            "kind" => "tipo",
            "code" => "código",
            "ncm" => "NCM",
            "quantity" => "quantidade",
            "unit_price" => "preço unitário",
            "due_date" => "previsão de entrega",
            "technician" => "técnico",
            "quote" => "orçamento",
            "lines" => "item",
            "line" => "número do item",
            "decision" => "decisão",
            "comment" => "comentário",
            "revision" => "revisão",
            "text" => "nota",
            "reason" => "motivo",
            "parts" => "peças",
            "expected_at" => "previsão de chegada",
            "tests_performed" => "testes realizados",
            "checklist" => "checklist",
            "item" => "item",
            "ok" => "OK",
            "note" => "observação",
            "amount" => "valor",
            "method" => "forma de pagamento",
            "reference" => "referência",
            "to" => "destino",
            "caption" => "legenda",
            "content_type" => "tipo de arquivo",
            "statuses" => "status",
            "transitions" => "transição",
            "label" => "rótulo",
            "sla_hours" => "SLA (horas)",
            "channels" => "canais",
            "roles" => "papéis",
            "guards" => "condições",
            "from" => "origem",
            "action" => "ação",
            "initial" => "status inicial",
            other => other,
        };
        parts.push(match index {
            Some(i) => format!("{word} {}", i + 1),
            None => word.to_owned(),
        });
    }
    parts.join(", ")
}

/// Exact English texts of the domain's values and checks.
const EXACT: &[(&str, &str)] = &[
    ("invalid CPF check digits", "dígitos verificadores do CPF inválidos"),
    ("invalid CNPJ check digits", "dígitos verificadores do CNPJ inválidos"),
    ("CPF must contain only digits", "o CPF deve ter só dígitos"),
    ("CPF must have 11 digits", "o CPF deve ter 11 dígitos"),
    ("CPF must not be a single repeated digit", "o CPF não pode ser um só dígito repetido"),
    ("CNPJ must contain only letters and digits", "o CNPJ deve ter só letras e dígitos"),
    ("CNPJ must have 14 characters", "o CNPJ deve ter 14 caracteres"),
    ("CNPJ check digits must be digits", "os dígitos verificadores do CNPJ devem ser números"),
    ("CNPJ must not be a single repeated character", "o CNPJ não pode ser um só caractere repetido"),
    ("document must have 11 (CPF) or 14 (CNPJ) characters", "informe um CPF (11 dígitos) ou CNPJ (14 caracteres)"),
    ("email is empty", "informe o e-mail"),
    ("email is longer than 254 characters", "o e-mail tem mais de 254 caracteres"),
    ("email must not contain spaces or control characters", "o e-mail não pode ter espaços"),
    ("email must contain exactly one '@'", "o e-mail deve ter um único @"),
    ("email local part is empty", "falta a parte antes do @ no e-mail"),
    ("email local part is longer than 64 characters", "a parte antes do @ tem mais de 64 caracteres"),
    ("email local part has invalid characters", "o e-mail tem caracteres inválidos antes do @"),
    ("email local part has a misplaced dot", "o e-mail tem um ponto fora do lugar"),
    ("email domain is invalid", "o domínio do e-mail é inválido"),
    ("email domain must contain a dot", "o domínio do e-mail deve ter um ponto"),
    ("phone number is empty", "informe o telefone"),
    ("phone number has invalid characters", "o telefone tem caracteres inválidos"),
    ("phone number has too many digits", "o telefone tem dígitos demais"),
    ("only Brazilian (+55) phone numbers are accepted", "só telefones do Brasil (+55)"),
    ("phone number must have an area code and 8 or 9 digits", "informe o DDD e 8 ou 9 dígitos"),
    ("unknown area code (DDD)", "DDD desconhecido"),
    ("9-digit phone numbers must start with 9", "celulares de 9 dígitos começam com 9"),
    ("8-digit phone numbers must start with 2 to 5", "telefones fixos de 8 dígitos começam com 2 a 5"),
    ("unknown UF", "UF desconhecida"),
    ("city code must contain only digits", "o código IBGE da cidade deve ter só dígitos"),
    ("city code must have 7 digits", "o código IBGE da cidade deve ter 7 dígitos"),
    ("city code does not start with a UF code", "o código IBGE não começa pelo código de uma UF"),
    ("CEP must contain only digits", "o CEP deve ter só dígitos"),
    ("CEP must have 8 digits", "o CEP deve ter 8 dígitos"),
    ("CEP must not be all zeros", "o CEP não pode ser só zeros"),
    ("NCM must contain only digits", "o NCM deve ter só dígitos"),
    ("NCM must have 8 digits", "o NCM deve ter 8 dígitos"),
    ("NCM chapter must be 01 to 97", "o capítulo do NCM deve ser de 01 a 97"),
    ("amount is empty", "informe o valor"),
    ("amount is not a valid number", "o valor não é um número"),
    ("amount has more than 2 decimal places", "o valor tem mais de 2 casas decimais"),
    ("amount exceeds 15 integer digits", "o valor é grande demais"),
    ("quantity is empty", "informe a quantidade"),
    ("quantity is not a valid number", "a quantidade não é um número"),
    ("quantity has more than 4 decimal places", "a quantidade tem mais de 4 casas decimais"),
    ("quantity has more than 11 integer digits", "a quantidade é grande demais"),
    ("quantity must be greater than zero", "a quantidade deve ser maior que zero"),
    ("must not be empty", "não pode ficar vazio"),
    ("must not contain control characters", "não pode ter caracteres de controle"),
    ("must have at least one line", "informe ao menos um item"),
    ("must not be negative", "não pode ser negativo"),
    ("quantity × unit_price is too large", "quantidade × preço unitário é grande demais"),
    ("is required for parts (it goes on the NF-e)", "é obrigatório para peças (vai na NF-e)"),
    ("must not be in the past", "não pode ser uma data passada"),
    ("the quote has no lines to send", "o orçamento não tem itens para enviar"),
    ("is required when asking for adjustments", "é obrigatório quando o cliente pede ajustes"),
    ("is the date already recorded", "é a data já registrada"),
    ("must be greater than zero", "deve ser maior que zero"),
    ("per-line decisions go with \"approve\"", "decisões por item só acompanham a aprovação"),
    ("the company's flow does not allow per-line approval", "o fluxo da empresa não permite aprovação por item"),
    ("approve at least one line, or reject the quote", "aprove ao menos um item, ou registre a recusa"),
    ("input contains invalid characters", "data inválida (use dd/mm/aaaa)"),
    ("premature end of input", "data incompleta (use dd/mm/aaaa)"),
    ("input is out of range", "data fora do calendário"),
];

/// English texts with a number or a name in them: (prefix, suffix, Portuguese with `{}` for the middle).
const PATTERNS: &[(&str, &str, &str)] = &[
    ("must have at most ", " characters", "use no máximo {} caracteres"),
    ("must have at most ", " lines", "no máximo {} itens"),
    ("must have at most ", " parts", "no máximo {} peças"),
    ("must have at most ", " items", "no máximo {} itens"),
    ("exceeds the balance of ", "", "passa do saldo de R$ {}"),
    ("line ", " is decided twice", "o item {} foi decidido duas vezes"),
    ("contains the control character ", "", "tem um caractere de controle ({})"),
    ("contains the Unicode non-character ", "", "tem um caractere inválido ({})"),
];

/// The flow's validation (the status or transition at fault is in the field).
const FLOW_PATTERNS: &[(&str, &str, &str)] = &[
    (
        "invalid status key ",
        "",
        "chave de status inválida: use até 40 letras minúsculas, dígitos e _, começando por letra",
    ),
    ("status ", " is defined more than once", "o status {} aparece mais de uma vez"),
    ("status ", " has an empty or too long label (1-60 chars)", "o rótulo do status {} deve ter de 1 a 60 caracteres"),
    ("status ", ": sla_hours must be 1 to 8760 (a year)", "o SLA do status {} deve ser de 1 a 8760 horas"),
    ("initial status ", " is not defined", "o status inicial {} não existe"),
    ("initial status ", " must be of kind open", "o status inicial {} deve ser do tipo aberto"),
    ("status ", " is not reachable from the initial status", "o status {} não é alcançável a partir do inicial"),
    ("no closed status can be reached from status ", "", "do status {} não se chega a um status de encerramento"),
    ("the flow has no status of kind closed", "", "o fluxo não tem status de encerramento"),
    ("status desconhecido", "", "status desconhecido no fluxo"),
];

fn pattern(detail: &str, table: &[(&str, &str, &str)]) -> Option<String> {
    table.iter().find_map(|(prefix, suffix, pt)| {
        let middle = detail.strip_prefix(prefix)?.strip_suffix(suffix)?;
        Some(pt.replace("{}", middle.trim_matches('"')))
    })
}

pub(crate) fn value_detail(detail: &str) -> String {
    if let Some((_, pt)) = EXACT.iter().find(|(en, _)| *en == detail) {
        return (*pt).to_owned();
    }
    if let Some(pt) = pattern(detail, PATTERNS) {
        return pt;
    }
    if let Some(rest) = detail.strip_prefix("revision ")
        && let Some((revision, line)) = rest.split_once(" has no line ")
    {
        return format!("a revisão {revision} não tem o item {line}");
    }
    if let Some(rest) = detail.strip_prefix("unknown variant `") {
        let value = rest.split('`').next().unwrap_or_default();
        return format!("«{value}» não é uma opção aceita");
    }
    if is_portuguese(detail) {
        return detail.to_owned();
    }
    tracing::debug!(detail, "a refusal's detail without a Portuguese text");
    "valor inválido".to_owned()
}

fn flow_detail(detail: &str) -> String {
    if let Some(pt) = pattern(detail, FLOW_PATTERNS) {
        return pt;
    }
    if let Some(rest) = detail.strip_prefix("transition ") {
        let (n, rest) = rest.split_once([':', ' ']).unwrap_or((rest, ""));
        let n = n.parse::<usize>().map_or_else(|_| n.to_owned(), |i| (i + 1).to_string());
        let what = if rest.ends_with("(kinds do not fit)") {
            "a ação não combina com os tipos dos status de origem e destino"
        } else if rest.ends_with("is defined more than once") {
            "aparece mais de uma vez"
        } else if rest.ends_with("allows no role") {
            "não permite nenhum papel"
        } else if rest.contains("refers to unknown status") {
            "usa um status que não existe"
        } else {
            "é inválida"
        };
        return format!("a transição {n} {what}");
    }
    value_detail(detail)
}

/// The API's own details are written in Portuguese: they hold its letters or words.
fn is_portuguese(text: &str) -> bool {
    text.chars().any(|c| "ãõçáéíóúâêôà".contains(c))
        || [" não ", " ou ", " um ", " uma ", " de ", " do ", " da ", "use "].iter().any(|w| text.contains(w))
}

#[cfg(test)]
mod tests {
    use osflow_domain::values::{CityCode, Cnpj, Cpf, Document, Email, Money, Ncm, Phone, Quantity, Uf, Zip};
    use serde_json::json;

    use super::*;

    /// Bad input for every value the forms send, refused by the domain's own parsers: each refusal has its
    /// Portuguese text (a changed English message fails here).
    #[test]
    fn every_value_refusal_of_the_forms_reads_in_portuguese() {
        let mut refusals: Vec<String> = Vec::new();
        let mut add = |e: osflow_domain::values::ValueError| refusals.push(e.message().to_owned());
        for bad in ["123", "111.111.111-11", "529.982.247-26", "52998224x25"] {
            add(Cpf::parse(bad).unwrap_err());
        }
        for bad in ["11.222.333/0001-82", "11222333000", "AAAAAAAAAAAAAA", "11.222.333/0001-8X", "1122233300018!"] {
            add(Cnpj::parse(bad).unwrap_err());
        }
        for bad in ["123", "1234567890123456"] {
            add(Document::parse(bad).unwrap_err());
        }
        for bad in ["", "a b@c.d", "ab", "a@@b", "@b.c", "a.@b.c", "a@b", "a(@b.c", "a@-b.c"] {
            add(Email::parse(bad).unwrap_err());
        }
        for bad in [
            "",
            "11 8765-432x",
            "+1 212 555 0100",
            "+55 11 1234",
            "+55 00 98765-4321",
            "+55 11 88765-4321",
            "+55 11 8765-4321",
            "+55 11 98765-432109876",
        ] {
            add(Phone::parse(bad).unwrap_err());
        }
        add(Uf::parse("XX").unwrap_err());
        for bad in ["12345", "12345ab", "0000000", "9912345"] {
            add(CityCode::parse(bad).unwrap_err());
        }
        for bad in ["0130500", "0130500a", "00000000"] {
            add(Zip::parse(bad).unwrap_err());
        }
        for bad in ["8504401", "8504401x", "99044010"] {
            add(Ncm::parse(bad).unwrap_err());
        }
        for bad in ["", "abc", "1.234", "1234567890123456"] {
            add(Money::parse(bad).unwrap_err());
        }
        for bad in ["", "x", "1.23456", "0", "123456789012"] {
            add(Quantity::parse(bad).unwrap_err());
        }
        assert!(refusals.len() > 40);
        for en in refusals {
            let pt = value_detail(&en);
            assert_ne!(pt, "valor inválido", "{en:?} has no Portuguese text");
            assert!(!pt.contains(&en), "{en:?}");
        }
    }

    #[test]
    fn a_refusal_names_the_field_and_the_action_in_portuguese() {
        let p = json!({"type": "/problems/invalid-field", "title": "Campo inválido", "status": 422,
                       "field": "items[1].unit_price", "detail": "amount has more than 2 decimal places"});
        assert_eq!(
            problem_text(&p),
            "Campo inválido (item do orçamento 2, preço unitário): o valor tem mais de 2 casas decimais."
        );
        let p = json!({"type": "/problems/guard-failed", "title": "Condição da etapa não atendida",
                       "action": "request_payment", "guard": "checklist_complete",
                       "detail": "request_payment: o checklist…"});
        let text = problem_text(&p);
        assert!(!text.contains("request_payment") && text.contains('«'), "{text}");
        let p = json!({"type": "/problems/invalid-flow", "title": "Fluxo inválido", "field": "transitions[2].roles",
                       "detail": "transition 2: start from aberta to em_execucao allows no role"});
        assert_eq!(problem_text(&p), "Fluxo inválido (transição 3, papéis): a transição 3 não permite nenhum papel.");
        let p = json!({"type": "/problems/invalid-field", "title": "Campo inválido", "field": "method",
                       "detail": "unknown variant `cheque`, expected one of `pix`, `cash`"});
        assert_eq!(problem_text(&p), "Campo inválido (forma de pagamento): «cheque» não é uma opção aceita.");
        // Something this table does not know is not shown in English.
        let p = json!({"type": "/problems/invalid-field", "title": "Campo inválido", "field": "x",
                       "detail": "the frobnicator is out of order"});
        assert_eq!(problem_text(&p), "Campo inválido (x): valor inválido.");
        // The API's own Portuguese details are kept.
        let p = json!({"type": "/problems/invalid-field", "title": "Campo inválido", "field": "due_date",
                       "detail": "informe uma data aaaa-mm-dd"});
        assert!(problem_text(&p).ends_with("informe uma data aaaa-mm-dd."));
    }
}
