//! The board's server time with 500 open orders (the figure): `handle` of `GET /` for a signed-in
//! atendente, orders in four statuses of the default flow, on the embedded store (a temporary file). The page's
//! weight is printed once (HTML, and the stylesheet and script it loads).

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use lambda_http::{Body, Request};
use osflow_app::App;
use osflow_app::OrderStore;
use osflow_console::{Console, Session, SessionKey, SignIn, handle};
use osflow_domain::values::UserId;
use osflow_domain::{Command, Role};
use osflow_store_sqlite::SqliteStore;
use osflow_testkit::conformance::{advance, at, cpf, open_order, tenant};

const OPEN_ORDERS: u64 = 500;

fn request(path: &str, cookie: &str) -> Request {
    lambda_http::http::Request::builder().uri(path).header("cookie", cookie).body(Body::Empty).expect("a request")
}

fn body_len(resp: lambda_http::Response<Body>) -> usize {
    match resp.into_body() {
        Body::Text(t) => t.len(),
        Body::Binary(b) => b.len(),
        _ => 0,
    }
}

fn board(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let store = Arc::new(SqliteStore::open_temporary().unwrap());
    let t = tenant("bench");
    rt.block_on(async {
        for n in 1..=OPEN_ORDERS {
            let (order, opened) = open_order(&t, n, cpf(n as u32), at(n as i64));
            store.create(&order, &opened, None).await.unwrap();
            // A quarter each: aberta, aguardando_aprovacao, aprovada, em_execucao.
            let mut order = order;
            let steps: &[Command] = match n % 4 {
                0 => &[],
                1 => &[Command::SendQuote],
                2 => &[Command::SendQuote, osflow_testkit::conformance::approve()],
                _ => &[Command::SendQuote, osflow_testkit::conformance::approve(), Command::Start],
            };
            for cmd in steps {
                let (events, next) = advance(&order, cmd.clone(), at(n as i64 + 1));
                store.apply(order.version, &next, &events, None).await.unwrap();
                order = next;
            }
        }
    });
    let console = Console {
        app: App::over(store.clone()),
        key: SessionKey::new(vec![9; 32]).unwrap(),
        sign_in: SignIn::Development { default_tenant: "bench".into() },
        secure: false,
        upload_origins: vec![],
        fiscal_function: None,
    };
    let now = chrono::Utc::now().timestamp();
    let session = Session::new(&t, &UserId::parse("ana").unwrap(), vec![Role::Atendente], "ana", now);
    let cookie = format!("osflow_sessao={}", console.key.seal(&session));
    rt.block_on(async {
        let html = handle(&console, request("/", &cookie)).await;
        assert_eq!(html.status(), 200);
        let html = body_len(html);
        let css = body_len(handle(&console, request("/static/console.css", &cookie)).await);
        let js = body_len(handle(&console, request("/static/console.js", &cookie)).await);
        eprintln!(
            "board with {OPEN_ORDERS} open orders: HTML {html} bytes, CSS {css} bytes, JS {js} bytes (uncompressed)"
        );
    });
    let mut group = c.benchmark_group("board");
    group.sample_size(20).measurement_time(Duration::from_secs(10));
    group.bench_function("500_open_orders", |b| {
        b.iter(|| rt.block_on(async { black_box(handle(&console, request("/", &cookie)).await) }));
    });
    group.bench_function("500_open_orders_refresh_fragment", |b| {
        b.iter(|| rt.block_on(async { black_box(handle(&console, request("/?parcial=1", &cookie)).await) }));
    });
    group.finish();
}

criterion_group!(benches, board);
criterion_main!(benches);
