//! The Cognito user directory against the AWS emulator (moto's cognito-idp) over real HTTP: a pool laid out as
//! infra/template.yaml lays it out (sign-in by e-mail, `custom:tenant`, one group per role), users of two
//! companies, a disabled one, and pages of two users so that every listing crosses pages.

use aws_sdk_cognitoidentityprovider::Client;
use aws_sdk_cognitoidentityprovider::types::{
    AttributeDataType, AttributeType, SchemaAttributeType, UsernameAttributeType,
};
use osflow_app::UserDirectory;
use osflow_domain::Role;
use osflow_domain::values::{TenantId, UserId};
use osflow_testkit::emulator::{require_emulator, unique_name};
use osflow_users_cognito::CognitoUsers;

/// A pool as the template makes it, with its four role groups; returns its id.
async fn pool(client: &Client) -> String {
    let tenant = SchemaAttributeType::builder()
        .name("tenant")
        .attribute_data_type(AttributeDataType::String)
        .mutable(true)
        .build();
    let out = client
        .create_user_pool()
        .pool_name(unique_name("osflow-staff"))
        .username_attributes(UsernameAttributeType::Email)
        .schema(tenant)
        .send()
        .await
        .expect("create the user pool");
    let id = out.user_pool().and_then(|p| p.id()).expect("a pool id").to_owned();
    for role in Role::ALL {
        client.create_group().user_pool_id(&id).group_name(role.as_str()).send().await.expect("create a group");
    }
    id
}

fn attr(name: &str, value: &str) -> AttributeType {
    AttributeType::builder().name(name).value(value).build().expect("an attribute")
}

/// A user of `tenant` with `roles`; returns its `sub` (the id the tokens carry).
async fn user(client: &Client, pool: &str, email: &str, name: Option<&str>, tenant: &str, roles: &[Role]) -> String {
    let mut create = client
        .admin_create_user()
        .user_pool_id(pool)
        .username(email)
        .user_attributes(attr("email", email))
        .user_attributes(attr("custom:tenant", tenant));
    if let Some(name) = name {
        create = create.user_attributes(attr("name", name));
    }
    let out = create.send().await.expect("create a user");
    let user = out.user().expect("the user");
    let sub = user.attributes().iter().find(|a| a.name() == "sub").and_then(|a| a.value()).map(str::to_owned);
    let sub = sub.unwrap_or_else(|| user.username().expect("a username").to_owned());
    for role in roles {
        client
            .admin_add_user_to_group()
            .user_pool_id(pool)
            .username(&sub)
            .group_name(role.as_str())
            .send()
            .await
            .expect("add to a group");
    }
    sub
}

#[tokio::test]
async fn the_company_users_and_their_roles_come_from_the_pool() {
    require_emulator().await;
    let client = Client::new(&osflow_aws_kit::load_sdk_config().await);
    let pool = pool(&client).await;
    let shop = TenantId::parse("oficina").unwrap();
    let other = TenantId::parse("outra").unwrap();
    let joana = user(&client, &pool, "joana@oficina.com.br", Some("Joana Lima"), "oficina", &[Role::Tecnico]).await;
    let bia = user(&client, &pool, "bia@oficina.com.br", None, "oficina", &[Role::Atendente]).await;
    let ana =
        user(&client, &pool, "ana@oficina.com.br", Some("Ana Reis"), "oficina", &[Role::Tecnico, Role::Representante])
            .await;
    let caio = user(&client, &pool, "caio@oficina.com.br", Some("Caio"), "oficina", &[Role::Tecnico]).await;
    let rafael = user(&client, &pool, "rafael@outra.com.br", Some("Rafael"), "outra", &[Role::Tecnico]).await;
    let off = user(&client, &pool, "off@oficina.com.br", Some("Desligado"), "oficina", &[Role::Tecnico]).await;
    client.admin_disable_user().user_pool_id(&pool).username(&off).send().await.expect("disable a user");

    let config = osflow_aws_kit::load_sdk_config().await;
    let users = CognitoUsers::new(&config, &pool).with_page_size(2);
    let id = |s: &str| UserId::parse(s).unwrap();

    // One user: found by the id the tokens carry, with its roles; only in its own company, only while enabled.
    let found = users.user(&shop, &id(&joana)).await.unwrap().expect("joana is a user of the company");
    assert_eq!((found.name.as_str(), found.email.as_deref()), ("Joana Lima", Some("joana@oficina.com.br")));
    assert_eq!((found.id.as_str(), found.roles.as_slice()), (joana.as_str(), &[Role::Tecnico][..]));
    let both = users.user(&shop, &id(&ana)).await.unwrap().expect("ana");
    assert_eq!(both.roles, [Role::Representante, Role::Tecnico]);
    let attendant = users.user(&shop, &id(&bia)).await.unwrap().expect("bia");
    assert_eq!((attendant.roles.as_slice(), attendant.name.as_str()), (&[Role::Atendente][..], "bia@oficina.com.br"));
    assert_eq!(users.user(&shop, &id(&rafael)).await.unwrap(), None, "another company's user");
    assert!(users.user(&other, &id(&rafael)).await.unwrap().is_some());
    assert_eq!(users.user(&shop, &id(&off)).await.unwrap(), None, "a disabled user");
    assert_eq!(users.user(&shop, &id("00000000-0000-4000-8000-000000000000")).await.unwrap(), None, "unknown");

    // The company's technicians: every page of the group read, other companies and the disabled left out.
    let technicians = users.users_with_role(&shop, Role::Tecnico).await.unwrap();
    let names: Vec<&str> = technicians.iter().map(|u| u.name.as_str()).collect();
    assert_eq!(names, ["Ana Reis", "Caio", "Joana Lima"]);
    assert_eq!(technicians[0].roles, [Role::Representante, Role::Tecnico]);
    assert_eq!(technicians[1].id.as_str(), caio);
    let financial = users.users_with_role(&shop, Role::Financeiro).await.unwrap();
    assert!(financial.is_empty(), "{financial:?}");
    let theirs = users.users_with_role(&other, Role::Tecnico).await.unwrap();
    assert_eq!(theirs.iter().map(|u| u.id.as_str()).collect::<Vec<_>>(), [rafael.as_str()]);

    // A pool without the role's group: nobody has the role. A pool that does not exist: an error, not "nobody".
    client.delete_group().user_pool_id(&pool).group_name(Role::Financeiro.as_str()).send().await.expect("delete");
    assert!(users.users_with_role(&shop, Role::Financeiro).await.unwrap().is_empty());
    let nowhere = CognitoUsers::new(&config, "us-east-1_NoSuchPool");
    assert!(nowhere.user(&shop, &id(&joana)).await.is_err());
}
