//! The drift test of `infra/template.yaml` (AWS SAM): the template must describe what the code defines — the table
//! of `osflow_store_dynamodb::table_definition`, the queues of `osflow_bus::queues()`, the routes of
//! `osflow_api::ROUTES` grouped by function, one resource per function package of the workspace — so that a
//! missing or stale entry fails here. It needs no emulator. The template's short tags (`!Ref`, `!GetAtt`,
//! `!Sub`, …) are read as their long forms (`{"Ref": …}`, `{"Fn::GetAtt": [resource, attribute]}`, …).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use osflow_api::{Function, ROUTES};
use osflow_bus::{Queue, queues};
use osflow_domain::Role;
use osflow_store_dynamodb::table_definition;
use serde_json::{Map, Value, json};

/// The function package (folder under `functions/`) consuming each queue. An exhaustive match: a new queue
/// needs its consumer here and in the template.
fn consumer_package(queue: Queue) -> &'static str {
    match queue {
        Queue::Notifications => "notifier",
        Queue::Reports => "reporter",
        Queue::Invoicing => "invoicer",
    }
}

/// The SAM policy templates the template may use (each grants a fixed, narrow set of actions on one resource).
const ALLOWED_POLICY_TEMPLATES: &[&str] = &["SQSPollerPolicy"];

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the tests package is in the workspace").to_owned()
}

/// The template, with its YAML short tags turned into CloudFormation's long forms.
struct Template {
    root: Value,
}

impl Template {
    fn load() -> Template {
        let path = repo_root().join("infra/template.yaml");
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let yaml: serde_yaml_ng::Value =
            serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{} is not YAML: {e}", path.display()));
        Template { root: to_json(yaml) }
    }

    fn resources(&self) -> &Map<String, Value> {
        self.root["Resources"].as_object().expect("the template has Resources")
    }

    fn resource(&self, id: &str) -> &Value {
        self.resources().get(id).unwrap_or_else(|| panic!("no resource {id}"))
    }

    fn of_type<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = (&'a String, &'a Value)> + 'a {
        self.resources().iter().filter(move |(_, r)| r["Type"] == kind)
    }

    /// Every `AWS::Serverless::Function` by its package (the folder of `CodeUri: ../functions/<package>`).
    fn functions(&self) -> BTreeMap<String, (&String, &Value)> {
        let mut by_package = BTreeMap::new();
        for (id, f) in self.of_type("AWS::Serverless::Function") {
            let code_uri = f["Properties"]["CodeUri"].as_str().unwrap_or_else(|| panic!("{id}: CodeUri is a path"));
            let package = code_uri
                .strip_prefix("../functions/")
                .unwrap_or_else(|| panic!("{id}: CodeUri {code_uri} is not ../functions/<package>"));
            assert!(
                by_package.insert(package.to_owned(), (id, f)).is_none(),
                "two resources build functions/{package}"
            );
        }
        by_package
    }

    fn function(&self, package: &str) -> (String, Value) {
        let functions = self.functions();
        let (id, f) =
            functions.get(package).unwrap_or_else(|| panic!("no function with CodeUri ../functions/{package}"));
        ((*id).clone(), (*f).clone())
    }

    /// A function property, or the one of `Globals.Function`.
    fn effective<'a>(&'a self, function: &'a Value, property: &str) -> &'a Value {
        let own = &function["Properties"][property];
        if own.is_null() { &self.root["Globals"]["Function"][property] } else { own }
    }
}

/// YAML → JSON, short tags → long forms (`!GetAtt A.B` → `{"Fn::GetAtt": ["A", "B"]}`).
fn to_json(value: serde_yaml_ng::Value) -> Value {
    use serde_yaml_ng::Value as Y;
    match value {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => {
            if let Some(u) = n.as_u64() {
                json!(u)
            } else if let Some(i) = n.as_i64() {
                json!(i)
            } else {
                json!(n.as_f64())
            }
        }
        Y::String(s) => Value::String(s),
        Y::Sequence(items) => Value::Array(items.into_iter().map(to_json).collect()),
        Y::Mapping(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| {
                    let key = match k {
                        Y::String(s) => s,
                        other => panic!("a mapping key that is not a string: {other:?}"),
                    };
                    (key, to_json(v))
                })
                .collect(),
        ),
        Y::Tagged(tagged) => {
            let tag = tagged.tag.to_string();
            let tag = tag.trim_start_matches('!');
            let inner = to_json(tagged.value);
            match tag {
                "Ref" | "Condition" => json!({ tag: inner }),
                "GetAtt" => match inner {
                    Value::String(s) => {
                        let (resource, attribute) =
                            s.split_once('.').unwrap_or_else(|| panic!("!GetAtt {s} has no attribute"));
                        json!({ "Fn::GetAtt": [resource, attribute] })
                    }
                    other => json!({ "Fn::GetAtt": other }),
                },
                other => json!({ format!("Fn::{other}"): inner }),
            }
        }
    }
}

fn get_att(resource: &str, attribute: &str) -> Value {
    json!({ "Fn::GetAtt": [resource, attribute] })
}

fn reference(resource: &str) -> Value {
    json!({ "Ref": resource })
}

/// A number written as a number or a string.
fn number(value: &Value) -> Option<u64> {
    value.as_u64().or_else(|| value.as_str().and_then(|s| s.parse().ok()))
}

fn events<'a>(function: &'a Value, kind: &'a str) -> impl Iterator<Item = (&'a String, &'a Value)> + 'a {
    function["Properties"]["Events"]
        .as_object()
        .into_iter()
        .flat_map(|events| events.iter())
        .filter(move |(_, e)| e["Type"] == kind)
}

/// The `AWS::Lambda::EventSourceMapping`s invoking the function `id` (SAM's SQS and DynamoDB events are not used:
/// they attach AWS managed policies on every queue and stream of the account).
fn mappings<'a>(t: &'a Template, id: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
    t.of_type("AWS::Lambda::EventSourceMapping")
        .map(|(_, m)| m)
        .filter(move |m| m["Properties"]["FunctionName"] == reference(id))
}

fn reports_batch_failures(mapping: &Value) -> bool {
    mapping["Properties"]["FunctionResponseTypes"]
        .as_array()
        .is_some_and(|types| types.iter().any(|t| t == "ReportBatchItemFailures"))
}

/// The function packages of the workspace (members `functions/<name>` with a binary) and their binary's name.
fn workspace_function_packages() -> BTreeMap<String, String> {
    let root = repo_root();
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).expect("the workspace Cargo.toml");
    let members = manifest
        .split_once("members = [")
        .and_then(|(_, rest)| rest.split_once(']'))
        .map(|(list, _)| list)
        .expect("the workspace lists its members");
    let mut packages = BTreeMap::new();
    for member in members.split(',').map(|m| m.trim().trim_matches('"')).filter(|m| !m.is_empty()) {
        let Some(folder) = member.strip_prefix("functions/") else { continue };
        let package = std::fs::read_to_string(root.join(member).join("Cargo.toml")).expect("a member's Cargo.toml");
        // Libraries (functions/common) have no [[bin]].
        let Some((_, bin)) = package.split_once("[[bin]]") else { continue };
        let name = bin
            .lines()
            .find_map(|line| line.trim().strip_prefix("name = ").map(|n| n.trim_matches('"').to_owned()))
            .unwrap_or_else(|| panic!("{member}: [[bin]] without a name"));
        packages.insert(folder.to_owned(), name);
    }
    packages
}

#[test]
fn the_table_is_the_store_s_table_definition() {
    let t = Template::load();
    let tables: Vec<_> = t.of_type("AWS::DynamoDB::Table").collect();
    assert_eq!(tables.len(), 1, "one table");
    let (_, table) = tables[0];
    let p = &table["Properties"];
    let def = table_definition("any");

    assert_eq!(p["BillingMode"], def.billing_mode);
    assert_eq!(
        p["KeySchema"],
        json!([{"AttributeName": def.partition_key.name, "KeyType": "HASH"},
               {"AttributeName": def.sort_key.name, "KeyType": "RANGE"}])
    );
    let defined: BTreeSet<(String, String)> = p["AttributeDefinitions"]
        .as_array()
        .expect("AttributeDefinitions")
        .iter()
        .map(|a| (a["AttributeName"].as_str().unwrap().to_owned(), a["AttributeType"].as_str().unwrap().to_owned()))
        .collect();
    let expected: BTreeSet<(String, String)> =
        def.attribute_definitions.iter().map(|a| (a.name.to_owned(), a.attribute_type.as_str().to_owned())).collect();
    assert_eq!(defined, expected, "AttributeDefinitions");

    let indexes = p["GlobalSecondaryIndexes"].as_array().expect("GlobalSecondaryIndexes");
    assert_eq!(indexes.len(), def.global_secondary_indexes.len(), "the number of GSIs");
    for index in &def.global_secondary_indexes {
        let found = indexes
            .iter()
            .find(|i| i["IndexName"] == index.name)
            .unwrap_or_else(|| panic!("GSI {} is missing", index.name));
        assert_eq!(
            found["KeySchema"],
            json!([{"AttributeName": index.partition_key.name, "KeyType": "HASH"},
                   {"AttributeName": index.sort_key.name, "KeyType": "RANGE"}]),
            "key schema of {}",
            index.name
        );
        assert_eq!(found["Projection"]["ProjectionType"], index.projection, "projection of {}", index.name);
    }
    assert_eq!(p["StreamSpecification"]["StreamViewType"], def.stream_view_type);
    assert_eq!(p["TimeToLiveSpecification"], json!({"AttributeName": def.ttl_attribute, "Enabled": true}));
    assert_eq!(p["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"], true, "PITR");
}

#[test]
fn the_queues_dlqs_alarms_and_consumers_are_the_bus_s() {
    let t = Template::load();
    let by_name = |name: &str| -> (String, Value) {
        let sub = json!({ "Fn::Sub": format!("${{AWS::StackName}}-{name}") });
        let found: Vec<_> = t.of_type("AWS::SQS::Queue").filter(|(_, q)| q["Properties"]["QueueName"] == sub).collect();
        assert_eq!(found.len(), 1, "one queue named ${{AWS::StackName}}-{name}");
        (found[0].0.clone(), found[0].1.clone())
    };
    let (relay_id, relay) = t.function("outbox-relay");
    let relay_env = &relay["Properties"]["Environment"]["Variables"];
    let relay_sends: Vec<Value> = relay["Properties"]["Policies"]
        .as_array()
        .expect("the relay's Policies")
        .iter()
        .flat_map(|p| p["Statement"].as_array().cloned().unwrap_or_default())
        .filter(|s| s["Action"].as_array().is_some_and(|a| a.contains(&json!("sqs:SendMessage"))))
        .flat_map(|s| s["Resource"].as_array().cloned().unwrap_or_default())
        .collect();

    for spec in queues() {
        let (queue_id, queue) = by_name(spec.name);
        let (dlq_id, dlq) = by_name(spec.dlq);
        let (q, d) = (&queue["Properties"], &dlq["Properties"]);
        let fifo = |p: &Value| p["FifoQueue"].as_bool().unwrap_or(false);
        assert_eq!(fifo(q), spec.fifo, "{}: FifoQueue", spec.name);
        assert_eq!(fifo(d), spec.fifo, "{}: FifoQueue", spec.dlq);
        assert_eq!(q["RedrivePolicy"]["deadLetterTargetArn"], get_att(&dlq_id, "Arn"), "{}: DLQ", spec.name);
        assert_eq!(number(&q["RedrivePolicy"]["maxReceiveCount"]), Some(u64::from(spec.max_receive_count)));
        assert_eq!(number(&q["VisibilityTimeout"]), Some(u64::from(spec.visibility_timeout_secs)), "{}", spec.name);
        assert_eq!(number(&q["MessageRetentionPeriod"]), Some(u64::from(spec.message_retention_secs)));
        assert_eq!(number(&d["MessageRetentionPeriod"]), Some(u64::from(spec.dlq_retention_secs)), "{}", spec.dlq);

        // A CloudWatch alarm on every DLQ, with an action.
        let dimension = json!({"Name": "QueueName", "Value": get_att(&dlq_id, "QueueName")});
        let alarm = t.of_type("AWS::CloudWatch::Alarm").find(|(_, a)| {
            a["Properties"]["Dimensions"].as_array().is_some_and(|d| d.contains(&dimension))
                && a["Properties"]["MetricName"] == "ApproximateNumberOfMessagesVisible"
        });
        let (_, alarm) = alarm.unwrap_or_else(|| panic!("no alarm on {}", spec.dlq));
        assert!(alarm["Properties"]["AlarmActions"].as_array().is_some_and(|a| !a.is_empty()), "{}", spec.dlq);

        // The consumer: an SQS mapping with partial batch failures, the function timeout the spec assumes.
        let package = consumer_package(spec.queue);
        let (id, consumer) = t.function(package);
        let from_queue: Vec<_> =
            mappings(&t, &id).filter(|m| m["Properties"]["EventSourceArn"] == get_att(&queue_id, "Arn")).collect();
        assert_eq!(from_queue.len(), 1, "{id} consumes {}", spec.name);
        assert!(reports_batch_failures(from_queue[0]), "{id}: ReportBatchItemFailures on {}", spec.name);
        if spec.fifo {
            // The publisher sets the deduplication id; Lambda refuses a batching window on a FIFO queue.
            assert_eq!(q["ContentBasedDeduplication"], false, "{}", spec.name);
            assert!(from_queue[0]["Properties"]["MaximumBatchingWindowInSeconds"].is_null(), "{id}: {}", spec.name);
        }
        assert_eq!(number(&consumer["Properties"]["Timeout"]), Some(u64::from(spec.consumer_timeout_secs)), "{id}");

        // The relay publishes to it: its URL and the permission to send.
        let env = format!("OSFLOW_QUEUE_URL_{}", spec.queue.env_name());
        assert_eq!(relay_env[&env], reference(&queue_id), "{relay_id}: {env}");
        assert!(relay_sends.contains(&get_att(&queue_id, "Arn")), "{relay_id} may not send to {}", spec.name);
    }
    // The bus's queues with their DLQs, and the relay's DLQ.
    assert_eq!(t.of_type("AWS::SQS::Queue").count(), 2 * queues().len() + 1, "a queue the code does not define");

    // Every mapping of the template reports partial batch failures.
    for (id, m) in t.of_type("AWS::Lambda::EventSourceMapping") {
        assert!(reports_batch_failures(m), "{id}: ReportBatchItemFailures");
    }
}

#[test]
fn the_stream_feeds_the_relay_and_the_schedules_the_reporter() {
    let t = Template::load();
    let (table_id, _) = t.of_type("AWS::DynamoDB::Table").next().expect("the table");
    let stream = get_att(table_id, "StreamArn");
    for (package, (id, _)) in t.functions() {
        let streams: Vec<_> = mappings(&t, id).filter(|m| m["Properties"]["EventSourceArn"] == stream).collect();
        if package == "outbox-relay" {
            assert_eq!(streams.len(), 1, "{id} reads the table's stream");
            assert!(reports_batch_failures(streams[0]), "{id}: ReportBatchItemFailures");
            // One record must never hold its shard until it expires (24 h): bisect to find it, a few retries, a
            // maximum age well under the retention, then the batch's position goes to the relay's DLQ.
            let p = &streams[0]["Properties"];
            assert_eq!(p["BisectBatchOnFunctionError"], true, "{id}: BisectBatchOnFunctionError");
            let retries = number(&p["MaximumRetryAttempts"]).expect("MaximumRetryAttempts (default: until expiry)");
            assert!((1..=10).contains(&retries), "{id}: MaximumRetryAttempts {retries}");
            let age = number(&p["MaximumRecordAgeInSeconds"]).expect("MaximumRecordAgeInSeconds (default: 24 h)");
            assert!((60..=6 * 3600).contains(&age), "{id}: MaximumRecordAgeInSeconds {age}");
            let (dlq_id, _) = relay_dlq(&t);
            assert_eq!(p["DestinationConfig"]["OnFailure"]["Destination"], get_att(&dlq_id, "Arn"), "{id}: OnFailure");
            // Only the records the relay turns into messages invoke it: new items of the store's event entity.
            let filters = p["FilterCriteria"]["Filters"].as_array().expect("FilterCriteria.Filters");
            assert_eq!(filters.len(), 1, "{id}: one filter");
            let pattern: Value = serde_json::from_str(filters[0]["Pattern"].as_str().expect("Pattern"))
                .unwrap_or_else(|e| panic!("{id}: the filter pattern is not JSON: {e}"));
            let event = osflow_store_dynamodb::items::entity::EVENT;
            assert_eq!(
                pattern,
                json!({"eventName": ["INSERT"], "dynamodb": {"NewImage": {"entity": {"S": [event]}}}}),
                "{id}: the filter"
            );
        } else {
            assert!(streams.is_empty(), "{id} reads the table's stream");
        }
    }

    let (id, reporter) = t.function("reporter");
    let schedules: BTreeSet<String> = events(&reporter, "ScheduleV2")
        .map(|(name, e)| {
            let input = e["Properties"]["Input"].as_str().unwrap_or_else(|| panic!("{id} {name}: Input"));
            let input: Value = serde_json::from_str(input).unwrap_or_else(|e| panic!("{id} {name}: {e}"));
            match (input["schedule"].as_str(), input["check"].as_str()) {
                (Some(schedule), None) => schedule.to_owned(),
                (None, Some(check)) => format!("check:{check}"),
                _ => panic!("{id} {name}: {{\"schedule\": …}} or {{\"check\": …}}"),
            }
        })
        .collect();
    // The report schedules and the SLA check.
    assert_eq!(schedules, ["check:sla", "daily", "monthly", "weekly"].map(String::from).into());
}

#[test]
fn the_http_routes_are_the_api_s_routes_behind_the_jwt_authorizer() {
    let t = Template::load();
    let api_ids: Vec<_> = t.of_type("AWS::Serverless::HttpApi").map(|(id, _)| id.clone()).collect();
    assert_eq!(api_ids.len(), 1, "one HTTP API");
    let api_id = &api_ids[0];
    let auth = &t.resource(api_id)["Properties"]["Auth"];
    let authorizer_name = auth["DefaultAuthorizer"].as_str().expect("a default authorizer");
    let jwt = &auth["Authorizers"][authorizer_name]["JwtConfiguration"];
    let (pool_id, pool) = t.of_type("AWS::Cognito::UserPool").next().expect("the Cognito user pool");
    // The API's app client is the authorizer's audience (the console has its own client, below).
    let client_id = jwt["audience"][0]["Ref"].as_str().expect("the audience is an app client").to_owned();
    assert_eq!(t.resource(&client_id)["Type"], "AWS::Cognito::UserPoolClient");
    assert_eq!(
        jwt["issuer"],
        json!({"Fn::Sub": format!("https://cognito-idp.${{AWS::Region}}.amazonaws.com/${{{pool_id}}}")}),
    );
    assert_eq!(jwt["audience"], json!([reference(&client_id)]));
    // custom:tenant and the roles as groups.
    assert!(
        pool["Properties"]["Schema"].as_array().is_some_and(|s| s.iter().any(|a| a["Name"] == "tenant")),
        "the user pool has the custom:tenant attribute"
    );
    let groups: BTreeSet<&str> = t
        .of_type("AWS::Cognito::UserPoolGroup")
        .filter(|(_, g)| g["Properties"]["UserPoolId"] == reference(pool_id))
        .map(|(_, g)| g["Properties"]["GroupName"].as_str().expect("GroupName"))
        .collect();
    assert_eq!(groups, Role::ALL.iter().map(|r| r.as_str()).collect(), "one group per role");

    let functions = t.functions();
    let mut served: BTreeMap<(String, String), String> = BTreeMap::new();
    for (package, (id, f)) in &functions {
        for (name, e) in events(f, "HttpApi") {
            let p = &e["Properties"];
            assert_eq!(p["ApiId"], reference(api_id), "{id} {name}: ApiId");
            let method = p["Method"].as_str().expect("Method").to_uppercase();
            let path = p["Path"].as_str().expect("Path").to_owned();
            let route_key = format!("{method} {path}");
            if path.starts_with("/p/") {
                assert_eq!(package, "portal", "{route_key} is a portal route");
                assert_eq!(p["Auth"]["Authorizer"], "NONE", "{route_key}: the portal routes are public");
            } else if package == "console" {
                // The console's pages: / and every path no other route takes; its session cookie is the credential.
                assert!(CONSOLE_ROUTES.contains(&route_key.as_str()), "{route_key} is not a console route");
                assert_eq!(p["Auth"]["Authorizer"], "NONE", "{route_key}: the console signs in by itself");
            } else {
                assert!(
                    p["Auth"].is_null(),
                    "{id} {route_key}: only the portal and console routes leave the JWT authorizer"
                );
                let route = osflow_api::by_route_key(&route_key)
                    .unwrap_or_else(|| panic!("{id}: {route_key} is not in osflow_api::ROUTES"));
                assert_eq!(route.function.package(), package, "{route_key} is served by");
            }
            assert!(served.insert((method, path), package.clone()).is_none(), "{route_key} twice");
        }
    }
    for function in Function::ALL {
        let expected: BTreeSet<String> = function.routes().map(osflow_api::route_key).collect();
        let (_, f) = t.function(function.package());
        let actual: BTreeSet<String> = events(&f, "HttpApi")
            .map(|(_, e)| {
                format!(
                    "{} {}",
                    e["Properties"]["Method"].as_str().unwrap().to_uppercase(),
                    e["Properties"]["Path"].as_str().unwrap()
                )
            })
            .collect();
        assert_eq!(actual, expected, "the routes of functions/{}", function.package());
    }
    assert!(served.len() >= ROUTES.len());
}

/// The console function's routes: `/` and the catch-all (API Gateway takes the more specific routes first).
const CONSOLE_ROUTES: [&str; 2] = ["GET /", "ANY /{proxy+}"];

/// Whether `value` refers to the resource `id` (`Ref`, `Fn::GetAtt`, or `${id…}` in a `Fn::Sub`).
fn refers_to(value: &Value, id: &str) -> bool {
    match value {
        Value::Object(map) => {
            map.get("Ref").is_some_and(|r| r == id)
                || map.get("Fn::GetAtt").is_some_and(|g| g[0] == id)
                || map.get("Fn::Sub").is_some_and(|s| {
                    let text = s.as_str().or_else(|| s[0].as_str()).unwrap_or_default();
                    text.contains(&format!("${{{id}}}")) || text.contains(&format!("${{{id}."))
                })
                || map.values().any(|v| refers_to(v, id))
        }
        Value::Array(list) => list.iter().any(|v| refers_to(v, id)),
        _ => false,
    }
}

#[test]
fn the_console_signs_in_through_the_hosted_ui_with_its_own_public_code_flow_client() {
    let t = Template::load();
    let (api_id, _) = t.of_type("AWS::Serverless::HttpApi").next().expect("the HTTP API");
    let (pool_id, _) = t.of_type("AWS::Cognito::UserPool").next().expect("the user pool");
    let (id, console) = t.function("console");
    let routes: BTreeSet<String> = events(&console, "HttpApi")
        .map(|(_, e)| {
            format!("{} {}", e["Properties"]["Method"].as_str().unwrap(), e["Properties"]["Path"].as_str().unwrap())
        })
        .collect();
    assert_eq!(routes, CONSOLE_ROUTES.map(String::from).into(), "{id}: the console's routes");

    // The hosted UI.
    let (domain_id, domain) = t.of_type("AWS::Cognito::UserPoolDomain").next().expect("the hosted UI's domain");
    assert_eq!(domain["Properties"]["UserPoolId"], reference(pool_id));
    // The console's client: the authorization code flow only, public (PKCE, no secret), OpenID, back to the
    // console's callback on the HTTP API.
    let env = &console["Properties"]["Environment"]["Variables"];
    let (client_id, client) = t
        .of_type("AWS::Cognito::UserPoolClient")
        .find(|(_, c)| c["Properties"]["AllowedOAuthFlowsUserPoolClient"] == true)
        .expect("the console's app client");
    let c = &client["Properties"];
    assert_eq!(c["UserPoolId"], reference(pool_id));
    assert_eq!(c["AllowedOAuthFlows"], json!(["code"]), "{client_id}: the code flow only (no implicit tokens)");
    assert_eq!(c["GenerateSecret"], false, "{client_id}: a public client, proven by PKCE");
    assert!(c["AllowedOAuthScopes"].as_array().unwrap().iter().any(|s| s == "openid"));
    assert!(c["ReadAttributes"].as_array().unwrap().iter().any(|a| a == "custom:tenant"), "the tenant claim");
    let api_url = format!("https://${{{api_id}}}.execute-api.${{AWS::Region}}.${{AWS::URLSuffix}}");
    assert_eq!(
        c["CallbackURLs"],
        json!([{"Fn::Sub": format!("{api_url}{}", osflow_console::cognito::CALLBACK_PATH)}]),
        "{client_id}: the console's callback"
    );
    assert_eq!(c["LogoutURLs"], json!([{"Fn::Sub": format!("{api_url}/entrar")}]));
    // The function: the hosted UI, the pool's issuer (the authorizer's), the secret holding the session key and
    // this client — named, not referenced: the client names the API, whose routes name the function.
    assert_eq!(
        env["OSFLOW_COGNITO_DOMAIN"],
        json!({"Fn::Sub": format!("https://${{{domain_id}}}.auth.${{AWS::Region}}.amazoncognito.com")})
    );
    assert_eq!(
        env["OSFLOW_COGNITO_ISSUER"],
        json!({"Fn::Sub": format!("https://cognito-idp.${{AWS::Region}}.amazonaws.com/${{{pool_id}}}")})
    );
    let (secret_id, secret) = t
        .of_type("AWS::SecretsManager::Secret")
        .find(|(_, s)| refers_to(&s["Properties"], client_id))
        .expect("the console's secret");
    let generate = &secret["Properties"]["GenerateSecretString"];
    assert_eq!(generate["GenerateStringKey"], "session_key");
    assert!(number(&generate["PasswordLength"]).is_some_and(|n| n >= 32), "{secret_id}: a long session key");
    assert_eq!(
        generate["SecretStringTemplate"],
        json!({"Fn::Sub": format!("{{\"client_id\": \"${{{client_id}}}\"}}")})
    );
    assert_eq!(env["OSFLOW_CONSOLE_SECRET"], secret["Properties"]["Name"], "{id}: the secret by its name");
    // (Its events name the API: SAM writes the function's ARN into the API's definition.)
    for target in [api_id.as_str(), client_id.as_str(), secret_id.as_str()] {
        for part in ["Environment", "Policies"] {
            let refers = refers_to(&console["Properties"][part], target);
            assert!(!refers, "{id}'s {part} refers to {target}: a circular dependency");
        }
    }
    let mut own = Vec::new();
    statements(&console["Properties"]["Policies"], &mut own);
    assert!(
        own.iter().any(|s| s["Action"] == json!(["secretsmanager:GetSecretValue"])
            && s["Resource"]["Fn::Sub"].as_str().is_some_and(|r| r.ends_with(":secret:${AWS::StackName}/console-*"))),
        "{id}: reads its secret"
    );
    // The fiscal routes go to fiscal-admin (the console links no fiscal crates): named in its environment, and the only
    // function it may invoke; no other function invokes one.
    let (fiscal_id, _) = t.function("fiscal-admin");
    assert_eq!(env["OSFLOW_FISCAL_FUNCTION"], reference(&fiscal_id), "{id}: invokes fiscal-admin");
    let invokes: Vec<&&Value> =
        own.iter().filter(|s| s["Action"].to_string().contains("lambda:InvokeFunction")).collect();
    assert_eq!(invokes.len(), 1, "{id}: {invokes:?}");
    assert_eq!(invokes[0]["Action"], json!(["lambda:InvokeFunction"]));
    assert_eq!(invokes[0]["Resource"], json!({"Fn::GetAtt": [fiscal_id, "Arn"]}), "{id}: that function only");
    for (other, f) in t.functions().values() {
        let mut theirs = Vec::new();
        statements(&f["Properties"]["Policies"], &mut theirs);
        let invokes = theirs.iter().any(|s| s["Action"].to_string().contains("lambda:"));
        assert!(**other == id || !invokes, "{other} may call the Lambda API");
    }
}

#[test]
fn every_function_package_has_its_resource_built_by_the_makefile() {
    let t = Template::load();
    let arch = &t.root["Parameters"]["Architecture"];
    assert_eq!(arch["Default"], "arm64");
    assert_eq!(arch["AllowedValues"], json!(["arm64", "x86_64"]));

    // infra/Makefile: `build-<LogicalId>: bootstraps ; $(call copy,<binary>)` per function, after one cargo
    // build of every function package.
    let makefile = std::fs::read_to_string(repo_root().join("infra/Makefile")).expect("infra/Makefile");
    let targets: BTreeMap<&str, &str> = makefile
        .lines()
        .filter_map(|line| {
            let (target, rest) = line.strip_prefix("build-")?.split_once(": bootstraps ; $(call copy,")?;
            Some((target, rest.strip_suffix(')')?))
        })
        .collect();
    let functions = t.functions();
    let members = workspace_function_packages();
    for (package, bin) in &members {
        let (id, _) = functions.get(package).unwrap_or_else(|| panic!("functions/{package} has no template resource"));
        assert_eq!(targets.get(id.as_str()), Some(&bin.as_str()), "infra/Makefile: build-{id} copies {bin}");
    }
    assert_eq!(targets.len(), members.len(), "infra/Makefile builds a function the template does not have");
    for (id, f) in functions.values() {
        assert_eq!(f["Metadata"]["BuildMethod"], "makefile", "{id}");
        assert_eq!(f["Metadata"]["ProjectRootDirectory"], "..", "{id}: the workspace root");
        assert_eq!(f["Metadata"]["ContextPath"], ".", "{id}: infra/Makefile");
        assert_eq!(t.effective(f, "Runtime"), "provided.al2023", "{id}");
        assert_eq!(t.effective(f, "Handler"), "bootstrap", "{id}");
        assert_eq!(t.effective(f, "Architectures"), &json!([reference("Architecture")]), "{id}");
        assert_eq!(t.effective(f, "LoggingConfig")["LogFormat"], "JSON", "{id}: JSON logs");
        assert!(number(&f["Properties"]["Timeout"]).is_some(), "{id}: its own Timeout");
        assert!(number(&f["Properties"]["MemorySize"]).is_some(), "{id}: its own MemorySize");
    }
}

/// Collects every IAM statement under `value`.
fn statements<'a>(value: &'a Value, out: &mut Vec<&'a Value>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::Array(list)) = map.get("Statement") {
                out.extend(list.iter());
            }
            map.values().for_each(|v| statements(v, out));
        }
        Value::Array(list) => list.iter().for_each(|v| statements(v, out)),
        _ => {}
    }
}

#[test]
fn no_policy_grants_a_wildcard_action() {
    let t = Template::load();
    let mut all = Vec::new();
    statements(&t.root["Resources"], &mut all);
    assert!(all.len() > 10, "the template's IAM statements were found");
    for statement in all {
        let actions = match &statement["Action"] {
            Value::String(a) => vec![a.clone()],
            Value::Array(list) => list.iter().map(|a| a.as_str().expect("an action is a string").to_owned()).collect(),
            other => panic!("a statement without actions: {other}"),
        };
        // A Deny may (and should) cover every action; an Allow names each one.
        if statement["Effect"] == "Deny" {
            continue;
        }
        for action in actions {
            assert!(!action.contains('*'), "a wildcard action: {action} in {statement}");
        }
    }
    // A function's Policies: statements, the template's own managed policies, or a narrow SAM policy template.
    for (package, (id, f)) in t.functions() {
        // SAM's SQS, DynamoDB and Kinesis events would attach AWS managed policies on every queue and stream.
        for kind in ["SQS", "DynamoDB", "Kinesis"] {
            assert_eq!(events(f, kind).count(), 0, "{id}: a SAM {kind} event; use an AWS::Lambda::EventSourceMapping");
        }
        for policy in f["Properties"]["Policies"].as_array().unwrap_or_else(|| panic!("{id}: Policies")) {
            match policy {
                Value::Object(map) if map.contains_key("Statement") => {}
                Value::Object(map) if map.contains_key("Ref") => {
                    let target = map["Ref"].as_str().expect("Ref");
                    assert_eq!(t.resource(target)["Type"], "AWS::IAM::ManagedPolicy", "{id} ({package})");
                }
                Value::Object(map) if map.len() == 1 => {
                    let name = map.keys().next().expect("one key");
                    assert!(ALLOWED_POLICY_TEMPLATES.contains(&name.as_str()), "{id}: policy template {name}");
                }
                other => panic!("{id} ({package}): policy {other} (an AWS managed policy grants too much)"),
            }
        }
    }
}

/// The relay's DLQ (`${AWS::StackName}-relay-dlq`, [`osflow_bus::RELAY_DLQ`]).
fn relay_dlq(t: &Template) -> (String, Value) {
    let sub = json!({ "Fn::Sub": format!("${{AWS::StackName}}-{}", osflow_bus::RELAY_DLQ) });
    let found: Vec<_> = t.of_type("AWS::SQS::Queue").filter(|(_, q)| q["Properties"]["QueueName"] == sub).collect();
    assert_eq!(found.len(), 1, "one queue named ${{AWS::StackName}}-{}", osflow_bus::RELAY_DLQ);
    (found[0].0.clone(), found[0].1.clone())
}

#[test]
fn the_relay_parks_what_sqs_refuses_on_its_dlq_and_someone_hears_of_it() {
    let t = Template::load();
    let (dlq_id, dlq) = relay_dlq(&t);
    assert_eq!(
        number(&dlq["Properties"]["MessageRetentionPeriod"]),
        Some(u64::from(osflow_bus::RELAY_DLQ_RETENTION_SECS))
    );
    let (relay_id, relay) = t.function("outbox-relay");
    assert_eq!(
        relay["Properties"]["Environment"]["Variables"][osflow_bus::RELAY_DLQ_URL_ENV],
        reference(&dlq_id),
        "{relay_id}: {}",
        osflow_bus::RELAY_DLQ_URL_ENV
    );
    let mut all = Vec::new();
    statements(&relay["Properties"]["Policies"], &mut all);
    assert!(
        all.iter().any(|s| s["Effect"] == "Allow"
            && s["Action"].as_array().is_some_and(|a| a.contains(&json!("sqs:SendMessage")))
            && s["Resource"].as_array().is_some_and(|r| r.contains(&get_att(&dlq_id, "Arn")))),
        "{relay_id} may send to its DLQ (parking, and the mapping's on-failure destination)"
    );
    let dimension = json!({"Name": "QueueName", "Value": get_att(&dlq_id, "QueueName")});
    assert!(
        t.of_type("AWS::CloudWatch::Alarm")
            .any(|(_, a)| a["Properties"]["Dimensions"].as_array().is_some_and(|d| d.contains(&dimension))
                && a["Properties"]["AlarmActions"].as_array().is_some_and(|a| !a.is_empty())),
        "an alarm on the relay's DLQ"
    );
}

#[test]
fn alarms_reach_someone_through_a_key_cloudwatch_may_use() {
    let t = Template::load();
    let topics: Vec<_> = t.of_type("AWS::SNS::Topic").collect();
    assert_eq!(topics.len(), 1, "one alarm topic");
    let (topic_id, topic) = topics[0];
    // The AWS managed key (alias/aws/sns) cannot be used by CloudWatch: alarms would never be delivered.
    let key = &topic["Properties"]["KmsMasterKeyId"];
    let key_id =
        key["Ref"].as_str().unwrap_or_else(|| panic!("{topic_id}: KmsMasterKeyId is a key of the template, not {key}"));
    let key = t.resource(key_id);
    assert_eq!(key["Type"], "AWS::KMS::Key", "{key_id}");
    assert_eq!(key["Properties"]["EnableKeyRotation"], true, "{key_id}: rotation");
    let mut all = Vec::new();
    statements(&key["Properties"]["KeyPolicy"], &mut all);
    let cloudwatch = all
        .iter()
        .find(|s| s["Effect"] == "Allow" && s["Principal"]["Service"] == "cloudwatch.amazonaws.com")
        .unwrap_or_else(|| panic!("{key_id}: CloudWatch may use the key"));
    for action in ["kms:Decrypt", "kms:GenerateDataKey"] {
        assert!(cloudwatch["Action"].as_array().is_some_and(|a| a.contains(&json!(action))), "{key_id}: {action}");
    }
    // Every alarm notifies the topic.
    for (id, alarm) in t.of_type("AWS::CloudWatch::Alarm") {
        assert_eq!(alarm["Properties"]["AlarmActions"], json!([reference(topic_id)]), "{id}");
    }
}

#[test]
fn the_bucket_refuses_plain_http_for_every_action_and_expires_old_versions() {
    let t = Template::load();
    let (bucket_id, bucket) = t.of_type("AWS::S3::Bucket").next().expect("the bucket");
    let (_, policy) = t
        .of_type("AWS::S3::BucketPolicy")
        .find(|(_, p)| p["Properties"]["Bucket"] == reference(bucket_id))
        .expect("a bucket policy");
    let mut all = Vec::new();
    statements(&policy["Properties"]["PolicyDocument"], &mut all);
    let tls = all
        .iter()
        .find(|s| s["Effect"] == "Deny" && s["Condition"]["Bool"]["aws:SecureTransport"] == "false")
        .expect("a Deny on aws:SecureTransport false");
    assert_eq!(tls["Action"], "s3:*", "every action, not some");
    assert_eq!(tls["Principal"], "*");
    let resources = tls["Resource"].as_array().expect("Resource: the bucket and its objects");
    assert!(resources.contains(&get_att(bucket_id, "Arn")), "the bucket itself");
    assert!(resources.contains(&json!({"Fn::Sub": format!("${{{bucket_id}.Arn}}/*")})), "its objects");

    // Versioning keeps overwritten and deleted objects: old versions expire, as do abandoned uploads.
    let rules = bucket["Properties"]["LifecycleConfiguration"]["Rules"].as_array().expect("lifecycle rules");
    let enabled = |r: &&Value| r["Status"] == "Enabled";
    assert!(
        rules.iter().filter(enabled).any(|r| number(&r["NoncurrentVersionExpiration"]["NoncurrentDays"]).is_some()),
        "old versions expire"
    );
    assert!(
        rules
            .iter()
            .filter(enabled)
            .any(|r| number(&r["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"]).is_some()),
        "incomplete uploads are aborted"
    );
}

#[test]
fn the_table_cannot_be_deleted_by_accident() {
    let t = Template::load();
    let (id, table) = t.of_type("AWS::DynamoDB::Table").next().expect("the table");
    assert_eq!(table["Properties"]["DeletionProtectionEnabled"], true, "{id}");
    assert_eq!(table["DeletionPolicy"], "Retain", "{id}");
}

#[test]
fn one_route_or_function_cannot_starve_the_others() {
    let t = Template::load();
    let (api_id, api) = t.of_type("AWS::Serverless::HttpApi").next().expect("the HTTP API");
    let p = &api["Properties"];
    let default_rate = number(&p["DefaultRouteSettings"]["ThrottlingRateLimit"]).expect("a default rate");
    // About 1,200 companies' normal traffic on the busiest route (the order list) is well over 100/s.
    assert!(default_rate >= 1000, "{api_id}: default rate {default_rate}/s is shared by every company");
    // The public routes have their own, lower limits: a flood of /p/* is throttled there, not on staff routes.
    let (_, portal) = t.function("portal");
    for (name, e) in events(&portal, "HttpApi") {
        let key = format!(
            "{} {}",
            e["Properties"]["Method"].as_str().unwrap().to_uppercase(),
            e["Properties"]["Path"].as_str().unwrap()
        );
        let own = &p["RouteSettings"][&key];
        let rate = number(&own["ThrottlingRateLimit"]).unwrap_or_else(|| panic!("{name}: RouteSettings of {key}"));
        assert!(rate < default_rate, "{key}: {rate}/s");
        assert!(number(&own["ThrottlingBurstLimit"]).is_some(), "{key}: burst");
    }
    for key in CONSOLE_ROUTES {
        let rate =
            number(&p["RouteSettings"][key]["ThrottlingRateLimit"]).unwrap_or_else(|| panic!("RouteSettings of {key}"));
        assert!(rate < default_rate, "{key}: {rate}/s");
    }
    // The public function cannot take the account's concurrency from the staff's functions.
    let (id, portal) = t.function("portal");
    assert!(number(&portal["Properties"]["ReservedConcurrentExecutions"]).is_some(), "{id}: reserved concurrency");
    // The notifier sends through SES at a bounded pace: the queue mapping bounds its concurrency.
    let (id, notifier) = t.function("notifier");
    let mapping = mappings(&t, &id).next().expect("the notifier's queue mapping");
    let max = number(&mapping["Properties"]["ScalingConfig"]["MaximumConcurrency"]).expect("MaximumConcurrency");
    assert!((2..=10).contains(&max), "{id}: MaximumConcurrency {max}");
    // A throttled message is hidden for its back-off (ChangeMessageVisibility, which SQSPollerPolicy allows) on
    // the queue the mapping reads, named by its URL.
    let queue_id = mapping["Properties"]["EventSourceArn"]["Fn::GetAtt"][0].as_str().expect("the queue's Arn");
    let env = format!("{}{}", osflow_bus::QUEUE_URL_ENV_PREFIX, Queue::Notifications.env_name());
    assert_eq!(notifier["Properties"]["Environment"]["Variables"][&env], reference(queue_id), "{id}: {env}");
}

#[test]
fn an_invoicer_batch_fits_its_timeout() {
    // Per message at worst: the consult before a resend, the send, the consult after its timeout, each bounded
    // by the SEFAZ client's whole-request timeout.
    let sefaz_timeout = osflow_nfe::sefaz::DEFAULT_TIMEOUT.as_secs();
    let t = Template::load();
    let (id, function) = t.function("invoicer");
    let timeout = number(&function["Properties"]["Timeout"]).expect("Timeout");
    let mapping = mappings(&t, &id).next().expect("the invoicer's queue mapping");
    let batch = number(&mapping["Properties"]["BatchSize"]).expect("BatchSize");
    assert!(batch * 3 * sefaz_timeout < timeout, "{id}: {batch} × 3 × {sefaz_timeout} s ≥ {timeout} s");
}

/// The DynamoDB actions a function's role grants on the table (`false`) and on its indexes (`true`): its inline
/// statements and the template's managed policies it refers to (the stream's actions are not the table's).
fn table_grants(t: &Template, function: &Value) -> BTreeSet<(String, bool)> {
    let table = get_att("Table", "Arn");
    let indexes = json!({ "Fn::Sub": "${Table.Arn}/index/*" });
    let mut found = Vec::new();
    for policy in function["Properties"]["Policies"].as_array().expect("Policies") {
        match policy.get("Ref").and_then(Value::as_str) {
            Some(managed) => statements(&t.resource(managed)["Properties"]["PolicyDocument"], &mut found),
            None => statements(policy, &mut found),
        }
    }
    let mut grants = BTreeSet::new();
    for statement in found.into_iter().filter(|s| s["Effect"] == "Allow") {
        let resources = match &statement["Resource"] {
            Value::Array(list) => list.clone(),
            one => vec![one.clone()],
        };
        let actions = match &statement["Action"] {
            Value::Array(list) => list.clone(),
            one => vec![one.clone()],
        };
        for action in actions.iter().filter_map(Value::as_str).filter(|a| a.starts_with("dynamodb:")) {
            for resource in &resources {
                if *resource == table || *resource == indexes {
                    grants.insert((action.trim_start_matches("dynamodb:").to_owned(), *resource == indexes));
                }
            }
        }
    }
    grants
}

/// Least privilege on the table: each function's role grants exactly the table actions its code sends. A step is
/// GetItem + a TransactWriteItems of Puts (a TransactGetItems needs GetItem); writes never on the indexes.
#[test]
fn each_function_may_do_on_the_table_what_its_code_does_and_no_more() {
    const STEP: &[&str] = &["GetItem", "Query", "PutItem"];
    // The status and customer indexes' lists: their key-only entries read back with BatchGetItem.
    const LISTS: &[&str] = &["GetItem", "BatchGetItem", "Query"];
    // Consumers: dedupe claims (Put, completed with Update, released with Delete), NF-e numbers, the SLA check's list.
    const CONSUMER: &[&str] = &["GetItem", "BatchGetItem", "Query", "PutItem", "UpdateItem", "DeleteItem"];
    // Which HTTP functions delete: the steps that can reach a final status delete the order's sealed unlock code in
    // the same transaction (close; cancel in execution; a rejected quote in quote, the portal); records (an old
    // index item, a code removed); open-order (a code kept in vain after a failed opening); fiscal-admin (a voided
    // NF-e number released); the console runs every handler. Which update: the order number's counter (open-order,
    // console), a number voided (fiscal-admin). Which list: orders-query, the console's board and search, and
    // open-order (a warranty return finds the customer's latest orders).
    let expected = |package: &str| -> BTreeSet<(String, bool)> {
        let mut on_table: BTreeSet<&str> = match package {
            "outbox-relay" => BTreeSet::new(),
            "notifier" | "invoicer" | "reporter" => CONSUMER.iter().copied().collect(),
            "orders-query" => LISTS.iter().copied().collect(),
            _ => STEP.iter().copied().collect(),
        };
        let lists = matches!(package, "orders-query" | "console" | "open-order" | "reporter");
        if lists {
            on_table.extend(LISTS);
        }
        if matches!(
            package,
            "open-order" | "quote" | "execution" | "close" | "records" | "portal" | "console" | "fiscal-admin"
        ) {
            on_table.insert("DeleteItem");
        }
        if matches!(package, "open-order" | "console" | "fiscal-admin") {
            on_table.insert("UpdateItem");
        }
        let mut grants: BTreeSet<(String, bool)> = on_table.iter().map(|a| ((*a).to_owned(), false)).collect();
        if lists {
            grants.extend(LISTS.iter().map(|a| ((*a).to_owned(), true)));
        }
        if matches!(package, "notifier" | "invoicer" | "reporter") {
            // The consumers' managed policy names the indexes for all its actions.
            grants.extend(CONSUMER.iter().map(|a| ((*a).to_owned(), true)));
        }
        grants
    };
    let t = Template::load();
    let functions = t.functions();
    assert_eq!(functions.len(), workspace_function_packages().len(), "every function is checked");
    for (package, (id, f)) in functions {
        assert_eq!(table_grants(&t, f), expected(&package), "{id} ({package}): its table actions");
    }
}

/// The functions that give an order a technician or list the company's users (`Function::uses_users`, and the
/// console, which serves every route) name the staff's user pool and may call exactly the three Cognito reads
/// of `osflow-users-cognito` on it; no other function may call Cognito.
#[test]
fn the_functions_that_check_technicians_read_the_user_pool_and_only_they_do() {
    let t = Template::load();
    let (pool_id, _) = t.of_type("AWS::Cognito::UserPool").next().expect("the user pool");
    let mut readers: BTreeSet<String> =
        osflow_api::Function::ALL.into_iter().filter(|f| f.uses_users()).map(|f| f.package().to_owned()).collect();
    readers.insert("console".to_owned());
    let reads =
        json!(["cognito-idp:AdminGetUser", "cognito-idp:AdminListGroupsForUser", "cognito-idp:ListUsersInGroup"]);
    for (package, (id, f)) in t.functions() {
        let mut own = Vec::new();
        statements(&f["Properties"]["Policies"], &mut own);
        let cognito: Vec<&&Value> = own.iter().filter(|s| s["Action"].to_string().contains("cognito-idp:")).collect();
        let env = &f["Properties"]["Environment"]["Variables"][osflow_users_cognito::USER_POOL_ID_ENV];
        if readers.contains(&package) {
            assert_eq!(*env, reference(pool_id), "{id}: {}", osflow_users_cognito::USER_POOL_ID_ENV);
            assert_eq!(cognito.len(), 1, "{id}: one Cognito statement");
            assert_eq!(cognito[0]["Action"], reads, "{id}: the directory's reads, nothing more");
            assert_eq!(cognito[0]["Resource"], get_att(pool_id, "Arn"), "{id}: on the staff's pool only");
        } else {
            assert!(cognito.is_empty() && env.is_null(), "{id} ({package}) does not read the user pool");
        }
    }
}
