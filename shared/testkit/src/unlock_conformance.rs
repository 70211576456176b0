//! The conformance case of the `UnlockCodeStore` port (the equipment's unlock codes, sealed apart from the order),
//! run on every adapter through `conformance_tests!`.

use osflow_app::StoreError;
use osflow_domain::Command;

use crate::conformance::{Stores, advance, at, cpf, idem_record, note, open_order, tenant};

/// A code is kept per company and order, replaced by a new one, read back as written; the step whose events forget
/// it (a cancellation) deletes it in the same write, and a stale step deletes nothing.
pub async fn unlock_codes_are_kept_per_order_and_deleted_with_the_step_that_forgets_them(s: Stores) {
    let (t, other) = (tenant("acme"), tenant("outra"));
    let (order, opened) = open_order(&t, 1, cpf(1), at(0));
    s.orders.create(&order, &opened, None).await.unwrap();
    assert_eq!(s.unlock_codes.unlock_code(&t, &order.id).await.unwrap(), None);
    s.unlock_codes.put_unlock_code(&t, &order.id, "1234").await.unwrap();
    s.unlock_codes.put_unlock_code(&t, &order.id, "padrão L 0 7").await.unwrap();
    assert_eq!(s.unlock_codes.unlock_code(&t, &order.id).await.unwrap().as_deref(), Some("padrão L 0 7"));
    assert_eq!(s.unlock_codes.unlock_code(&other, &order.id).await.unwrap(), None, "per company");
    let (events, kept) = advance(&order, Command::ChangeUnlockCode { set: true }, at(1));
    s.orders.apply(order.version, &kept, &events, None).await.unwrap();

    // A stale step that would forget it: refused, the code still there.
    let (cancel, cancelled) =
        advance(&kept, Command::Cancel { reason: "Cliente desistiu".into(), refund: None }, at(2));
    assert!(cancel.iter().any(|e| e.change.forgets_unlock_code()), "{cancel:?}");
    let (noted_events, noted) = advance(&kept, note("Cliente ligou"), at(2));
    s.orders.apply(kept.version, &noted, &noted_events, None).await.unwrap();
    let stale = s.orders.apply(kept.version, &cancelled, &cancel, None).await;
    assert!(matches!(stale, Err(StoreError::Conflict { .. })), "{stale:?}");
    assert_eq!(s.unlock_codes.unlock_code(&t, &order.id).await.unwrap().as_deref(), Some("padrão L 0 7"));

    // The cancellation deletes it in its own write.
    let (cancel, cancelled) =
        advance(&noted, Command::Cancel { reason: "Cliente desistiu".into(), refund: None }, at(3));
    s.orders.apply(noted.version, &cancelled, &cancel, None).await.unwrap();
    assert!(!cancelled.has_unlock_code());
    assert_eq!(s.unlock_codes.unlock_code(&t, &order.id).await.unwrap(), None);

    // Deleting a code that is not kept does nothing.
    s.unlock_codes.delete_unlock_code(&t, &order.id).await.unwrap();
    let (second, second_opened) = open_order(&t, 2, cpf(2), at(4));
    s.orders.create(&second, &second_opened, None).await.unwrap();
    s.unlock_codes.put_unlock_code(&t, &second.id, "0000").await.unwrap();
    s.unlock_codes.delete_unlock_code(&t, &second.id).await.unwrap();
    assert_eq!(s.unlock_codes.unlock_code(&t, &second.id).await.unwrap(), None);
}

/// An opening with a code keeps the order and its sealed code in one write, all or nothing: an opening refused
/// by the store (its order id or its idempotency key taken) keeps no code, and leaves the first order's code as
/// it was.
pub async fn an_opening_keeps_its_unlock_code_in_its_own_write(s: Stores) {
    let t = tenant("acme");
    let (order, opened) = open_order(&t, 1, cpf(1), at(0));
    let record = idem_record(&t, "abrir-1", at(0));
    s.unlock_codes.create_with_unlock_code(&order, &opened, Some(&record), "1234").await.unwrap();
    assert_eq!(s.orders.get(&t, &order.id).await.unwrap().map(|o| o.version), Some(1));
    assert_eq!(s.unlock_codes.unlock_code(&t, &order.id).await.unwrap().as_deref(), Some("1234"));

    // Another opening under the same idempotency key (a lost race): nothing of it is kept, its code neither.
    let (second, second_opened) = open_order(&t, 2, cpf(2), at(1));
    let again = s.unlock_codes.create_with_unlock_code(&second, &second_opened, Some(&record), "9999").await;
    assert!(matches!(again, Err(StoreError::AlreadyExists)), "{again:?}");
    assert_eq!(s.orders.get(&t, &second.id).await.unwrap(), None);
    assert_eq!(s.unlock_codes.unlock_code(&t, &second.id).await.unwrap(), None, "no orphan code");

    // The same order again: refused, the first code untouched.
    let twice = s.unlock_codes.create_with_unlock_code(&order, &opened, None, "5678").await;
    assert!(matches!(twice, Err(StoreError::AlreadyExists)), "{twice:?}");
    assert_eq!(s.unlock_codes.unlock_code(&t, &order.id).await.unwrap().as_deref(), Some("1234"));
}
