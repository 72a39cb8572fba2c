//! STS: which account the operator's credentials belong to.

use std::sync::Arc;

use aws_sdk_sts::Client;

use crate::call::Caller;
use crate::error::{AwsError, AwsFault};
use crate::observer::CallObserver;
use crate::operation::Operation;

#[derive(Clone, Debug)]
pub struct Sts {
    client: Client,
    caller: Caller,
}

impl Sts {
    pub fn new(client: Client, observer: Arc<dyn CallObserver>) -> Self {
        Sts {
            client,
            caller: Caller::new(observer),
        }
    }

    /// Takes a token from `pacer` before each call (see [`crate::pacing`]).
    pub fn with_pacer(mut self, pacer: crate::pacing::Pacer) -> Self {
        self.caller = self.caller.paced(pacer);
        self
    }

    /// The underlying SDK client, for calls this crate does not wrap.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The account id of the credentials in use.
    pub async fn caller_account(&self) -> Result<String, AwsError> {
        let out = self
            .caller
            .call(
                Operation::GetCallerIdentity,
                self.client.get_caller_identity().send(),
            )
            .await
            .map_err(|cause| AwsError::GetCallerIdentity { cause })?;
        out.account()
            .filter(|account| !account.is_empty())
            .map(str::to_owned)
            .ok_or_else(|| AwsError::GetCallerIdentity {
                cause: AwsFault::malformed_response("GetCallerIdentity returned no account"),
            })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::config::AwsClients;
    use crate::observer::NoopObserver;
    use crate::test_server::{Reply, TestServer};

    #[tokio::test]
    async fn caller_account_reads_the_account() {
        let server = TestServer::start(vec![Reply::xml(
            200,
            r#"<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <GetCallerIdentityResult>
    <Arn>arn:aws:sts::123456789012:assumed-role/operator/session</Arn>
    <UserId>AROAEXAMPLE:session</UserId>
    <Account>123456789012</Account>
  </GetCallerIdentityResult>
  <ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata>
</GetCallerIdentityResponse>"#,
        )]);
        let config = server.sdk_config(1).await;
        let sts = Sts::new(
            AwsClients::from_sdk_config(&config).sts,
            Arc::new(NoopObserver),
        );
        assert_eq!(sts.caller_account().await.unwrap(), "123456789012");
    }
}
