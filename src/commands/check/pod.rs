//! `check --service-account-token-file FILE [--role-arn ARN]`: the role the provider would
//! assume for a pod (KEP-4412), chosen by the kubelet path's own rules, and what the token's
//! claims say — the issuer, subject and audience a role's trust policy must name.

use std::collections::BTreeMap;

use super::report::Steps;
use crate::aws::{TokenClaims, WebIdentity};
use crate::commands::get::{self, ECR_ROLE_ARN_ANNOTATION};
use crate::diagnose::Advice;
use crate::secret::Secret;

/// A pod, as far as the provider sees it: its service-account token and, standing for the
/// annotation `eks.amazonaws.com/ecr-role-arn`, the role it names (possibly empty).
#[derive(Debug)]
pub(crate) struct Pod {
    pub(crate) token: Secret,
    pub(crate) role_arn: Option<String>,
}

/// The `role` step. `Err(())`: the step failed and the rest cannot run.
pub(crate) fn role_step(
    pod: &Pod,
    role_arn_env: Option<&str>,
    steps: &mut Steps,
) -> Result<(Option<WebIdentity>, Option<TokenClaims>), ()> {
    let claims = TokenClaims::of(pod.token.expose());
    let annotations: BTreeMap<String, String> = pod
        .role_arn
        .iter()
        .map(|arn| (ECR_ROLE_ARN_ANNOTATION.to_owned(), arn.clone()))
        .collect();
    let token = claims.as_ref().map_or_else(
        || "; the token is not a JWT whose claims can be read".to_owned(),
        |c| {
            format!(
                "; token for {} (audience {}, issuer {})",
                c.subject,
                c.audiences.join(", "),
                c.issuer
            )
        },
    );
    match get::choose_role(&annotations, role_arn_env) {
        Ok(choice) => {
            let role = choice.role_arn.as_deref().unwrap_or("node credentials");
            steps.pass("role", format!("{role}, from {}{token}", choice.reason));
            let identity = choice.role_arn.map(|role_arn| WebIdentity {
                role_arn,
                token: pod.token.clone(),
            });
            Ok((identity, claims))
        }
        Err(error) => {
            steps.fail("role", error.to_string(), Advice::default());
            Err(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;

    #[test]
    fn claims_of_a_service_account_token() {
        let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(
            r#"{"iss":"https://oidc.eks.us-west-2.amazonaws.com/id/ABC","sub":"system:serviceaccount:ns:sa","aud":["sts.amazonaws.com"]}"#,
        );
        let claims = TokenClaims::of(&format!("eyJhbGciOiJSUzI1NiJ9.{payload}.sig")).unwrap();
        assert_eq!(claims.subject, "system:serviceaccount:ns:sa");
        assert_eq!(claims.audiences, ["sts.amazonaws.com"]);
        assert_eq!(
            claims.issuer,
            "https://oidc.eks.us-west-2.amazonaws.com/id/ABC"
        );
        assert_eq!(TokenClaims::of("not-a-jwt"), None);
    }
}
