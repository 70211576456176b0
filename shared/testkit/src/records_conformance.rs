//! The conformance cases of the `RecordStore` port (customers, equipment, histories, the rewrite of a history),
//! run on every adapter through `conformance_tests!`.

use chrono::{DateTime, Utc};
use osflow_app::StoreError;
use osflow_domain::records::anonymized_customer;
use osflow_domain::values::{Phone, TenantId};
use osflow_domain::{Command, CustomerId, CustomerRecord, Equipment, EquipmentId, EquipmentRecord, Event, Order};

use crate::conformance::{Stores, advance, at, cpf, customer, new_order_id, note, open_order, tenant};

fn customer_record(tenant: &TenantId, n: u32) -> CustomerRecord {
    CustomerRecord {
        id: CustomerId::from_uuid(uuid::Uuid::now_v7()).unwrap(),
        tenant: tenant.clone(),
        customer: customer(cpf(n)),
        version: 1,
        created_at: at(0),
        updated_at: at(0),
        anonymized_at: None,
    }
}

fn equipment_record(tenant: &TenantId, owner: &CustomerId, serial: &str, when: DateTime<Utc>) -> EquipmentRecord {
    EquipmentRecord {
        id: EquipmentId::from_uuid(uuid::Uuid::now_v7()).unwrap(),
        tenant: tenant.clone(),
        customer: *owner,
        equipment: Equipment {
            description: "Notebook".into(),
            brand: Some("Dell".into()),
            model: None,
            serial: Some(serial.into()),
        },
        version: 1,
        created_at: when,
        updated_at: when,
    }
}

/// Customers are found by id and by document; the document is unique in a company; writes are conditional on
/// the version; a new document moves the index; an anonymized customer gives its document up; companies apart.
pub async fn customers_by_id_and_document(s: Stores) {
    let (t, other) = (tenant("acme"), tenant("outra"));
    let maria = customer_record(&t, 1);
    let doc = maria.customer.document;
    s.records.put_customer(&maria, None).await.unwrap();
    assert_eq!(s.records.customer(&t, &maria.id).await.unwrap().as_ref(), Some(&maria));
    assert_eq!(s.records.customer_by_document(&t, &doc).await.unwrap().as_ref(), Some(&maria));
    assert_eq!(s.records.customer_by_document(&other, &doc).await.unwrap(), None, "per company");
    assert_eq!(s.records.customer(&other, &maria.id).await.unwrap(), None);
    // Another company may have a customer with the same document.
    s.records.put_customer(&customer_record(&other, 1), None).await.unwrap();

    assert_eq!(s.records.put_customer(&maria, None).await, Err(StoreError::AlreadyExists), "the same id");
    let twin = customer_record(&t, 1);
    assert_eq!(s.records.put_customer(&twin, None).await, Err(StoreError::AlreadyExists), "the same document");
    assert_eq!(s.records.customer(&t, &twin.id).await.unwrap(), None, "nothing stored");

    // An edit: the phone and the document.
    let mut edited = maria.clone();
    edited.customer.phone = Some(Phone::parse("+55 11 91234-5678").unwrap());
    edited.customer.document = cpf(2);
    edited.version = 2;
    edited.updated_at = at(5);
    s.records.put_customer(&edited, Some(1)).await.unwrap();
    assert_eq!(s.records.customer(&t, &maria.id).await.unwrap().as_ref(), Some(&edited));
    assert_eq!(s.records.customer_by_document(&t, &doc).await.unwrap(), None, "the old document is free");
    assert_eq!(s.records.customer_by_document(&t, &cpf(2)).await.unwrap().as_ref(), Some(&edited));
    // The freed document can be another customer's now.
    let ana = customer_record(&t, 1);
    s.records.put_customer(&ana, None).await.unwrap();

    // Stale, unknown, or onto another customer's document: refused, nothing changed.
    assert_eq!(s.records.put_customer(&maria, Some(1)).await, Err(StoreError::Conflict { current_version: 2 }));
    let unknown = customer_record(&t, 7);
    assert_eq!(s.records.put_customer(&unknown, Some(1)).await, Err(StoreError::NotFound));
    let mut onto = edited.clone();
    onto.customer.document = doc;
    onto.version = 3;
    assert_eq!(s.records.put_customer(&onto, Some(2)).await, Err(StoreError::AlreadyExists));
    assert_eq!(s.records.customer(&t, &maria.id).await.unwrap().as_ref(), Some(&edited));
    assert_eq!(s.records.customer_by_document(&t, &doc).await.unwrap().as_ref(), Some(&ana));

    // Anonymized: found by id only, its document free.
    let anonymized = edited.anonymized(at(9));
    assert_eq!(anonymized.customer, anonymized_customer());
    s.records.put_customer(&anonymized, Some(2)).await.unwrap();
    assert_eq!(s.records.customer(&t, &maria.id).await.unwrap().as_ref(), Some(&anonymized));
    assert_eq!(s.records.customer_by_document(&t, &cpf(2)).await.unwrap(), None);
    assert_eq!(s.records.customer_by_document(&t, &anonymized.customer.document).await.unwrap(), None);
    s.records.put_customer(&customer_record(&t, 2), None).await.unwrap();
}

/// Equipment is found by id and by serial (trimmed, any case), the serial unique in a company, listed per
/// customer; an edit of the serial moves the index.
pub async fn equipment_by_serial_and_customer(s: Stores) {
    let t = tenant("acme");
    let owner = customer_record(&t, 1);
    s.records.put_customer(&owner, None).await.unwrap();
    let first = equipment_record(&t, &owner.id, "BR123456", at(0));
    let second = equipment_record(&t, &owner.id, "ETQ-0042", at(1));
    s.records.put_equipment(&first, None).await.unwrap();
    s.records.put_equipment(&second, None).await.unwrap();
    assert_eq!(s.records.equipment(&t, &first.id).await.unwrap().as_ref(), Some(&first));
    assert_eq!(s.records.equipment_by_serial(&t, " br123456 ").await.unwrap().as_ref(), Some(&first));
    assert_eq!(s.records.equipment_by_serial(&tenant("outra"), "BR123456").await.unwrap(), None);
    assert_eq!(s.records.equipment_of_customer(&t, &owner.id).await.unwrap(), vec![first.clone(), second.clone()]);

    let dup = equipment_record(&t, &owner.id, "br123456", at(2));
    assert_eq!(s.records.put_equipment(&dup, None).await, Err(StoreError::AlreadyExists));
    assert_eq!(s.records.equipment(&t, &dup.id).await.unwrap(), None);

    let mut edited = first.clone();
    edited.equipment.serial = Some("BR999".into());
    edited.equipment.model = Some("Inspiron 15".into());
    edited.version = 2;
    s.records.put_equipment(&edited, Some(1)).await.unwrap();
    assert_eq!(s.records.equipment_by_serial(&t, "BR123456").await.unwrap(), None);
    assert_eq!(s.records.equipment_by_serial(&t, "br999").await.unwrap().as_ref(), Some(&edited));
    assert_eq!(s.records.equipment_of_customer(&t, &owner.id).await.unwrap(), vec![edited.clone(), second.clone()]);
    assert_eq!(s.records.put_equipment(&first, Some(1)).await, Err(StoreError::Conflict { current_version: 2 }));
    let mut onto = edited.clone();
    onto.equipment.serial = Some("etq-0042".into());
    onto.version = 3;
    assert_eq!(s.records.put_equipment(&onto, Some(2)).await, Err(StoreError::AlreadyExists));
    assert_eq!(s.records.equipment(&t, &first.id).await.unwrap().as_ref(), Some(&edited));
}

/// The orders linked to a customer or an equipment, newest first, each once, at most `limit`.
pub async fn histories_list_linked_orders_newest_first(s: Stores) {
    let t = tenant("acme");
    let owner = customer_record(&t, 1);
    let equipment = equipment_record(&t, &owner.id, "BR1", at(0));
    let ids: Vec<_> = (0..4).map(|_| new_order_id()).collect();
    for (i, id) in ids.iter().enumerate() {
        let eq = (i % 2 == 0).then_some(&equipment.id);
        s.records.link_order(&t, id, Some(&owner.id), eq).await.unwrap();
        s.records.link_order(&t, id, Some(&owner.id), eq).await.unwrap();
    }
    let newest_first: Vec<_> = ids.iter().rev().copied().collect();
    assert_eq!(s.records.orders_of_customer(&t, &owner.id, 100).await.unwrap(), newest_first);
    assert_eq!(s.records.orders_of_customer(&t, &owner.id, 2).await.unwrap(), newest_first[..2].to_vec());
    assert_eq!(s.records.orders_of_equipment(&t, &equipment.id, 100).await.unwrap(), vec![ids[2], ids[0]]);
    assert!(s.records.orders_of_customer(&tenant("outra"), &owner.id, 100).await.unwrap().is_empty());
}

/// A rewritten history (the LGPD erasure) keeps its versions and still folds into the stored order; the order
/// item is untouched.
pub async fn rewritten_events_replay_to_the_order(s: Stores) {
    let t = tenant("acme");
    let (order, opened) = open_order(&t, 1, cpf(1), at(0));
    s.orders.create(&order, &opened, None).await.unwrap();
    let mut current: Order = order;
    for (i, cmd) in [note("Maria ligou"), Command::AnonymizeCustomer].into_iter().enumerate() {
        let (events, next) = advance(&current, cmd, at(i as i64 + 1));
        s.orders.apply(current.version, &next, &events, None).await.unwrap();
        current = next;
    }
    s.records.rewrite_events(&t, &current.id, &Event::anonymized).await.unwrap();
    let history = s.orders.timeline(&t, &current.id).await.unwrap();
    assert_eq!(history.len(), 3);
    let json = serde_json::to_string(&history).unwrap();
    for personal in ["Maria Souza", cpf(1).as_str(), "maria@example.com", "98765"] {
        assert!(!json.contains(personal), "{personal} is still in the history");
    }
    assert_eq!(Order::replay(&history).unwrap(), current);
    assert_eq!(s.orders.get(&t, &current.id).await.unwrap().as_ref(), Some(&current));
}
