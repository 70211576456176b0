//! The DANFSe of an order's NFS-e: the PDF the invoicer stored beside the NFS-e when Sefin issued it.

use osflow_domain::values::OrderId;

use super::{App, AppError, AppResult, Caller};
use crate::ports::{Blob, FiscalDocument, danfse_blob_key, latest_record};

impl App {
    /// The DANFSe of the order's NFS-e named by its DPS Id (the invoice's `access_key`) or by its 50-digit NFS-e
    /// key; `NotFound` for another key, an NF-e, or an NFS-e not issued (yet).
    pub async fn invoice_danfse(&self, caller: &Caller, id: &OrderId, key: &str) -> AppResult<Blob> {
        let record = latest_record(self.order_invoices(caller, id).await?, |r| {
            r.numbering.document == FiscalDocument::Dps && (r.access_key == key || r.protocol.as_deref() == Some(key))
        })
        .ok_or(AppError::NotFound)?;
        let nfse_key = record.protocol.as_deref().ok_or(AppError::NotFound)?;
        self.blobs.get(&caller.tenant, &danfse_blob_key(id, nfse_key)).await?.ok_or(AppError::NotFound)
    }
}
