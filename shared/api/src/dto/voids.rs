//! The gaps of the company's NF-e sequence and their inutilização (`GET /v1/fiscal/nfe/gaps`,
//! `POST /v1/fiscal/nfe/voids`).

use chrono::{DateTime, Utc};
use osflow_app::{FiscalEnvironment as AppEnvironment, NfeGaps, NumberGap, VoidRecord};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::enums::{FiscalEnvironment, GapReason, InvoiceState, VoidState};

/// Voids a range of numbers given up (inutilização, NFeInutilizacao4).
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VoidRequest {
    /// The first number of the range (`nNFIni`).
    #[schema(example = 5, minimum = 1, maximum = 999999999)]
    pub first: u64,
    /// The last number of the range (`nNFFin`); the range holds at most 500 numbers, every one a gap.
    #[schema(example = 5, minimum = 1, maximum = 999999999)]
    pub last: u64,
    /// `xJust`: why the numbers are voided.
    #[schema(example = "NF-e rejeitada e emitida novamente com outro número", min_length = 15, max_length = 255)]
    pub justification: String,
    /// The sequence's environment (default: the emitter's).
    #[serde(default)]
    pub environment: Option<FiscalEnvironment>,
}

/// A number given up: claimed, never authorized; SEFAZ expects it voided.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct NfeGapView {
    pub number: u64,
    /// The order that held the number.
    pub order_id: String,
    pub reason: GapReason,
    /// The access key of the NF-e built under it (none when nothing was built).
    pub key: Option<String>,
    /// The state of that NF-e.
    pub state: Option<InvoiceState>,
    /// SEFAZ's cStat of its last answer.
    pub cstat: Option<u16>,
    pub message: Option<String>,
}

impl From<&NumberGap> for NfeGapView {
    fn from(g: &NumberGap) -> NfeGapView {
        NfeGapView {
            number: g.number,
            order_id: g.order_id.to_string(),
            reason: g.reason.into(),
            key: g.invoice.as_ref().map(|r| r.access_key.clone()),
            state: g.invoice.as_ref().map(|r| r.state.into()),
            cstat: g.invoice.as_ref().and_then(|r| r.cstat),
            message: g.invoice.as_ref().and_then(|r| r.message.clone()),
        }
    }
}

/// An inutilização of a range.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct NfeVoidView {
    pub first: u64,
    pub last: u64,
    pub justification: String,
    pub state: VoidState,
    /// `infInut/@Id`.
    pub id: String,
    pub cstat: Option<u16>,
    pub message: Option<String>,
    /// `nProt` of the inutilização.
    pub protocol: Option<String>,
    /// The procInutNFe, once voided.
    pub xml_url: Option<String>,
    pub created_at: DateTime<Utc>,
}

fn environment_name(environment: AppEnvironment) -> &'static str {
    match environment {
        AppEnvironment::Homologation => "homologation",
        AppEnvironment::Production => "production",
    }
}

impl From<&VoidRecord> for NfeVoidView {
    fn from(v: &VoidRecord) -> NfeVoidView {
        NfeVoidView {
            first: v.first,
            last: v.last,
            justification: v.justification.clone(),
            state: v.state.into(),
            id: v.id.clone(),
            cstat: v.cstat,
            message: v.message.clone(),
            protocol: v.protocol.clone(),
            xml_url: v.xml_ref.as_ref().map(|_| {
                format!(
                    "/v1/fiscal/nfe/voids/{}/xml?environment={}",
                    v.first,
                    environment_name(v.numbering.environment)
                )
            }),
            created_at: v.created_at,
        }
    }
}

/// The gaps of the company's NF-e sequence (CNPJ, série, environment) and its inutilizações.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct NfeGapsView {
    pub cnpj: String,
    pub serie: u32,
    pub environment: FiscalEnvironment,
    pub gaps: Vec<NfeGapView>,
    pub voids: Vec<NfeVoidView>,
}

impl From<&NfeGaps> for NfeGapsView {
    fn from(g: &NfeGaps) -> NfeGapsView {
        NfeGapsView {
            cnpj: g.numbering.cnpj.clone(),
            serie: g.numbering.serie,
            environment: g.numbering.environment.into(),
            gaps: g.gaps.iter().map(NfeGapView::from).collect(),
            voids: g.voids.iter().map(NfeVoidView::from).collect(),
        }
    }
}
