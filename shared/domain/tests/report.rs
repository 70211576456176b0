//! Report aggregates: the incremental aggregation (one contribution per event, counted once, in any delivery
//! order, with duplicates) equals a brute-force recomputation from the whole histories.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use osflow_domain::report::{
    DayAggregate, Histogram, NO_TECHNICIAN, SlaLimits, Summary, contribution, method_name, report_day, sla_breach,
};
use osflow_domain::testing;
use osflow_domain::values::{Money, UserId};
use osflow_domain::*;
use proptest::prelude::*;

fn key(s: &str) -> StatusKey {
    StatusKey::parse(s).unwrap()
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 1, 12, 0, 0).unwrap()
}

const STATUSES: [&str; 3] = ["em_execucao", "validacao", "aguardando_aprovacao"];
const MATERIAL: &str = "aguardando_material";
const METHODS: [PaymentMethod; 3] = [PaymentMethod::Pix, PaymentMethod::Cash, PaymentMethod::Credit];

/// One random step of an order.
#[derive(Debug, Clone)]
enum Step {
    Move(usize),
    WaitMaterial,
    Decide(bool),
    Pay(usize, i64),
    Note,
    Cancel,
    Close,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (0..STATUSES.len()).prop_map(Step::Move),
        1 => Just(Step::WaitMaterial),
        1 => any::<bool>().prop_map(Step::Decide),
        2 => (0..METHODS.len(), 1i64..50_000).prop_map(|(m, c)| Step::Pay(m, c)),
        1 => Just(Step::Note),
        1 => Just(Step::Cancel),
        1 => Just(Step::Close),
    ]
}

fn opened(n: u128, technician: Option<&str>, service: &str, at: DateTime<Utc>) -> Event {
    let cmd = OpenOrder {
        service: Service { kind: service.into(), reported_problem: "Não liga".into() },
        items: vec![],
        technician: technician.map(|t| UserId::parse(t).unwrap()),
        ..testing::opening("acme", n as u64)
    };
    let actor = Actor::staff(UserId::parse("rep").unwrap(), vec![Role::Representante]);
    decide_open(&Flow::default_flow(), cmd, &actor, at).unwrap()
}

/// The events of one order from its steps (gaps in seconds between events).
fn history(n: u128, technician: Option<&str>, service: &str, steps: &[(Step, i64)]) -> Vec<Event> {
    let mut at = t0() + Duration::hours(n as i64 * 7);
    let mut events = vec![opened(n, technician, service, at)];
    for (s, gap) in steps {
        at += Duration::seconds(*gap);
        let before = events.last().unwrap().status_after.clone();
        let (after, change) = match s {
            Step::Move(i) => (key(STATUSES[*i]), Change::Moved),
            Step::WaitMaterial => (
                key(MATERIAL),
                Change::MaterialAwaited {
                    material: MaterialWait {
                        reason: "peça".into(),
                        parts: vec![],
                        expected_at: NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
                        since: at,
                    },
                },
            ),
            Step::Decide(ok) => (
                before.clone(),
                Change::QuoteDecided {
                    revision: 1,
                    decision: if *ok { QuoteDecision::Approve } else { QuoteDecision::Reject },
                    lines: vec![],
                    approved_total: Money::zero(),
                    comment: None,
                    evidence: None,
                },
            ),
            Step::Pay(m, cents) => (
                before.clone(),
                Change::PaymentRegistered {
                    payment: Payment {
                        seq: 1,
                        amount: Money::from_cents(*cents).unwrap(),
                        method: METHODS[*m],
                        at,
                        reference: None,
                    },
                    balance: Money::zero(),
                },
            ),
            Step::Note => (before.clone(), Change::Started),
            Step::Cancel => (key("cancelada"), Change::Cancelled { reason: "desistiu".into() }),
            Step::Close => (key("encerrada"), Change::Closed),
        };
        let last = matches!(s, Step::Cancel | Step::Close);
        events.push(Event {
            version: events.len() as u64 + 1,
            at,
            actor: Actor::System { component: "test".into() },
            action: None,
            status_before: Some(before),
            status_after: after,
            sla_due: None,
            change,
        });
        if last {
            break;
        }
    }
    events
}

fn sla() -> SlaLimits {
    [(key("em_execucao"), 24), (key(MATERIAL), 48), (key("aberta"), 1)].into_iter().collect()
}

/// The aggregates recomputed from whole histories: stays from the timeline function, counters by scanning.
fn brute_force(histories: &[Vec<Event>], sla: &SlaLimits) -> BTreeMap<NaiveDate, DayAggregate> {
    let mut days: BTreeMap<NaiveDate, DayAggregate> = BTreeMap::new();
    for events in histories {
        let Change::Opened(o) = &events[0].change else { panic!("first event opens") };
        let tech = o.technician.as_ref().map_or(NO_TECHNICIAN.to_owned(), |t| t.as_str().to_owned());
        let service = o.service.kind.clone();
        let stays = stays(events);
        for (i, s) in stays.iter().enumerate() {
            let d = days.entry(report_day(s.entered_at)).or_insert_with(|| DayAggregate::new(report_day(s.entered_at)));
            d.statuses.entry(s.status.clone()).or_default().entered += 1;
            // Back in a status seen before is rework, except the return from a material wait to the status it
            // paused.
            let returns_from_material =
                i >= 2 && stays[i - 1].status.as_str() == MATERIAL && stays[i - 2].status == s.status;
            if stays[..i].iter().any(|p| p.status == s.status) && !returns_from_material {
                d.rework_loops += 1;
            }
            if let Some(left) = s.left_at {
                let day = report_day(left);
                let d = days.entry(day).or_insert_with(|| DayAggregate::new(day));
                let secs = (left - s.entered_at).num_seconds();
                let st = d.statuses.entry(s.status.clone()).or_default();
                st.left += 1;
                st.total_secs += secs;
                st.histogram.add(secs);
                if sla.get(&s.status).is_some_and(|h| secs > i64::from(*h) * 3600) {
                    st.sla_breaches += 1;
                    d.sla_breaches += 1;
                }
                for (map, who) in [(&mut d.by_technician, &tech), (&mut d.by_service, &service)] {
                    let t = map.entry(who.clone()).or_default().entry(s.status.clone()).or_default();
                    t.left += 1;
                    t.total_secs += secs;
                }
                if s.status.as_str() == MATERIAL {
                    d.material_waits += 1;
                    d.material_wait_secs += secs;
                }
            }
        }
        let mut paid = Money::zero();
        for e in events {
            let day = report_day(e.at);
            let d = days.entry(day).or_insert_with(|| DayAggregate::new(day));
            match &e.change {
                Change::Opened(_) => d.opened += 1,
                Change::QuoteDecided { decision: QuoteDecision::Approve, .. } => d.approved += 1,
                Change::QuoteDecided { decision: QuoteDecision::Reject, .. } => d.rejected += 1,
                Change::Cancelled { .. } => d.cancelled += 1,
                Change::Closed => {
                    d.closed += 1;
                    d.closed_paid_total += paid;
                }
                Change::PaymentRegistered { payment, .. } => {
                    paid += payment.amount;
                    d.payments += 1;
                    let r = d.revenue.entry(method_name(payment.method).to_owned()).or_insert(Money::zero());
                    *r += payment.amount;
                }
                _ => {}
            }
        }
    }
    days
}

fn non_empty(m: BTreeMap<NaiveDate, DayAggregate>) -> BTreeMap<NaiveDate, DayAggregate> {
    m.into_iter().filter(|(day, a)| *a != DayAggregate::new(*day)).collect()
}

type OrderSpec = (Option<usize>, usize, Vec<(Step, i64)>);

fn orders() -> impl Strategy<Value = Vec<OrderSpec>> {
    prop::collection::vec(
        (
            prop::option::of(0..2usize),
            0..2usize,
            // Gaps from 0 to 3 days, so stays cross days and SLA limits.
            prop::collection::vec((step(), 0i64..(3 * 86_400)), 0..14),
        ),
        1..6,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn incremental_aggregates_equal_brute_force(
        specs in orders(),
        duplicates in prop::collection::vec(any::<prop::sample::Index>(), 0..20),
        shuffle_keys in prop::collection::vec(any::<u64>(), 200),
    ) {
        let histories: Vec<Vec<Event>> = specs
            .iter()
            .enumerate()
            .map(|(i, (tech, service, steps))| {
                history(i as u128 + 1, tech.map(|t| ["tec-1", "tec-2"][t]), ["reparo", "instalacao"][*service], steps)
            })
            .collect();
        let sla = sla();
        // Every event once, some twice, in a shuffled order.
        let mut delivery: Vec<(usize, u64)> =
            histories.iter().enumerate().flat_map(|(o, h)| h.iter().map(move |e| (o, e.version))).collect();
        let extra: Vec<(usize, u64)> = duplicates.iter().map(|i| delivery[i.index(delivery.len())]).collect();
        delivery.extend(extra);
        let mut keyed: Vec<(u64, (usize, u64))> =
            delivery.into_iter().enumerate().map(|(i, d)| (shuffle_keys[i % shuffle_keys.len()] ^ i as u64, d)).collect();
        keyed.sort();

        // The consumer: counts each event once (the dedupe record), merges its contribution into its day.
        let mut counted: BTreeSet<(usize, u64)> = BTreeSet::new();
        let mut days: BTreeMap<NaiveDate, DayAggregate> = BTreeMap::new();
        for (_, (o, v)) in keyed {
            if !counted.insert((o, v)) {
                continue;
            }
            let c = contribution(&histories[o], v, &sla).unwrap();
            days.entry(c.day).or_insert_with(|| DayAggregate::new(c.day)).merge(&c);
        }
        prop_assert_eq!(non_empty(days.clone()), non_empty(brute_force(&histories, &sla)));

        // And a summary of the period is the same from either.
        let (from, to) = (report_day(t0()), report_day(t0() + Duration::days(60)));
        let a: Vec<DayAggregate> = days.into_values().collect();
        let b: Vec<DayAggregate> = brute_force(&histories, &sla).into_values().collect();
        prop_assert_eq!(Summary::of(from, to, &a, true), Summary::of(from, to, &b, true));
    }

    #[test]
    fn histogram_merge_is_addition(xs in prop::collection::vec(0i64..5_000_000, 0..50), split in 0usize..50) {
        let split = split.min(xs.len());
        let (mut a, mut b, mut all) = (Histogram::default(), Histogram::default(), Histogram::default());
        xs[..split].iter().for_each(|x| a.add(*x));
        xs[split..].iter().for_each(|x| b.add(*x));
        xs.iter().for_each(|x| all.add(*x));
        a.merge(&b);
        prop_assert_eq!(&a, &all);
        prop_assert_eq!(all.count(), xs.len() as u64);
    }
}

#[test]
fn an_event_counts_on_its_sao_paulo_day() {
    // 02:00 UTC on the 2nd is 23:00 on the 1st in São Paulo.
    let at = Utc.with_ymd_and_hms(2026, 11, 2, 2, 0, 0).unwrap();
    assert_eq!(report_day(at), NaiveDate::from_ymd_opt(2026, 11, 1).unwrap());
    let late = Utc.with_ymd_and_hms(2026, 11, 2, 3, 0, 0).unwrap();
    assert_eq!(report_day(late), NaiveDate::from_ymd_opt(2026, 11, 2).unwrap());
}

#[test]
fn a_missing_earlier_version_is_not_counted_yet() {
    let h = history(1, None, "reparo", &[(Step::Move(0), 60), (Step::Move(1), 60)]);
    let without_v2: Vec<Event> = h.iter().filter(|e| e.version != 2).cloned().collect();
    assert!(contribution(&without_v2, 3, &sla()).is_err());
    assert!(contribution(&h, 3, &sla()).is_ok());
}

#[test]
fn percentiles_answer_bucket_bounds_and_the_bottleneck_is_the_longest_average() {
    let h = history(
        1,
        Some("tec-1"),
        "reparo",
        &[(Step::Move(0), 600), (Step::Move(1), 3 * 86_400), (Step::Pay(0, 10_000), 60), (Step::Close, 60)],
    );
    let sla = sla();
    let mut days: BTreeMap<NaiveDate, DayAggregate> = BTreeMap::new();
    for e in &h {
        let c = contribution(&h, e.version, &sla).unwrap();
        days.entry(c.day).or_insert_with(|| DayAggregate::new(c.day)).merge(&c);
    }
    let all: Vec<DayAggregate> = days.into_values().collect();
    let s = Summary::of(report_day(t0()), report_day(t0() + Duration::days(10)), &all, true);
    assert_eq!(s.bottleneck, Some(key("em_execucao")));
    let exec = s.statuses.iter().find(|x| x.status == key("em_execucao")).unwrap();
    assert_eq!((exec.left, exec.total_secs, exec.p50_secs, exec.sla_breaches), (1, 3 * 86_400, Some(259_200), 1));
    // One stay of 600 s: its bucket (up to 15 min) knows its extremes, so the percentile is the stay itself.
    let aberta = s.statuses.iter().find(|x| x.status == key("aberta")).unwrap();
    assert_eq!(aberta.p90_secs, Some(600));
    assert_eq!((s.opened, s.closed, s.sla_breaches), (1, 1, 1));
    let revenue = s.revenue.unwrap();
    assert_eq!(revenue.total, Money::from_cents(10_000).unwrap());
    assert_eq!(revenue.average_ticket, Some(Money::from_cents(10_000).unwrap()));
    assert_eq!(s.technicians[0].key, "tec-1");
    let no_revenue = Summary::of(report_day(t0()), report_day(t0()), &all, false);
    assert!(no_revenue.revenue.is_none());
    // Still in "validacao"? No: closed. An order left in em_execucao for 2 days breaches its 24 h SLA.
    let open = history(2, None, "reparo", &[(Step::Move(0), 60)]);
    let at = open.last().unwrap().at;
    assert!(sla_breach(&open, &sla, at + Duration::hours(23)).is_none());
    assert_eq!(sla_breach(&open, &sla, at + Duration::hours(25)).unwrap().status, key("em_execucao"));
}

/// A wait for material is not rework: the order returns to the status the wait paused. Going back to a status
/// otherwise is.
#[test]
fn the_return_from_a_material_wait_is_not_rework() {
    let sla = sla();
    let count = |h: &[Event]| -> u64 { h.iter().map(|e| contribution(h, e.version, &sla).unwrap().rework_loops).sum() };
    let with_wait = history(1, None, "reparo", &[(Step::Move(0), 60), (Step::WaitMaterial, 60), (Step::Move(0), 60)]);
    assert_eq!(count(&with_wait), 0, "em_execucao -> aguardando_material -> em_execucao");
    let rework = history(2, None, "reparo", &[(Step::Move(0), 60), (Step::Move(1), 60), (Step::Move(0), 60)]);
    assert_eq!(count(&rework), 1, "em_execucao -> validacao -> em_execucao");
    // A wait that leads elsewhere, and then back: rework.
    let elsewhere = history(
        3,
        None,
        "reparo",
        &[(Step::Move(0), 60), (Step::WaitMaterial, 60), (Step::Move(1), 60), (Step::Move(0), 60)],
    );
    assert_eq!(count(&elsewhere), 1);
}

/// Percentiles come from the observed stays, not the bucket's upper bound: stays of seconds no longer read as
/// a minute. Within a bucket, the value is interpolated between the smallest and largest stay it holds.
#[test]
fn percentiles_of_short_stays_are_within_the_stays() {
    let mut h = Histogram::default();
    for secs in [5, 10, 20] {
        h.add(secs);
    }
    let p50 = h.percentile(50).unwrap();
    assert!((5..=20).contains(&p50), "p50 {p50}");
    assert_eq!(h.percentile(100), Some(20), "the largest stay");
    assert_eq!(h.percentile(1), Some(5), "the smallest stay");
    // Mergeable: two halves merged answer as the whole.
    let (mut a, mut b) = (Histogram::default(), Histogram::default());
    a.add(5);
    b.add(10);
    b.add(20);
    a.merge(&b);
    assert_eq!(a, h);
    // A histogram stored before the extremes were kept answers within its bucket's bounds, interpolated.
    let old: Histogram = serde_json::from_value(serde_json::json!({"counts": [3]})).unwrap();
    let p = old.percentile(50).unwrap();
    assert!((1..60).contains(&p), "{p}");
}
