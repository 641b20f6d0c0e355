//! Our Standard Webhooks code and the reference implementation
//! (`standardwebhooks` Python package in .venv) agree both ways.

use bridge::domain::secret::Secret;
use bridge::domain::shop::WebhookSecret;
use bridge::domain::webhook::{sign, verify, SignatureHeaders};
use integration_tests::workspace_root;
use std::process::Command;

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const BODY: &str = r#"{"type":"order.paid","order":{"id":"42","total":"1.10","name":"Søren Ærø"}}"#;

fn python(script: &str, args: &[&str]) -> String {
    let python = workspace_root().join(".venv/bin/python");
    let output = Command::new(&python)
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "{} not runnable ({e}): run infra/scripts/test.sh once to create .venv",
                python.display()
            )
        });
    assert!(
        output.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

#[test]
fn reference_signs_we_verify() {
    let ts = now();
    let signature = python(
        "import sys\n\
         from datetime import datetime, timezone\n\
         from standardwebhooks.webhooks import Webhook\n\
         wh = Webhook(sys.argv[1])\n\
         print(wh.sign(sys.argv[2], datetime.fromtimestamp(int(sys.argv[3]), tz=timezone.utc), sys.argv[4]))",
        &[SECRET, "msg_ref", &ts.to_string(), BODY],
    );
    assert!(signature.starts_with("v1,"), "{signature}");
    let ts_text = ts.to_string();
    let headers = SignatureHeaders {
        id: Some("msg_ref"),
        timestamp: Some(&ts_text),
        signature: Some(&signature),
    };
    let secrets = [WebhookSecret {
        secret: Secret::new(SECRET),
        valid_until: None,
    }];
    assert_eq!(
        verify(
            &secrets,
            &headers,
            BODY.as_bytes(),
            time::OffsetDateTime::now_utc()
        ),
        Ok(())
    );
    // And a different body does not verify with the reference signature.
    assert!(verify(&secrets, &headers, b"{}", time::OffsetDateTime::now_utc()).is_err());
}

#[test]
fn we_sign_reference_verifies() {
    let ts = now();
    let signature = sign(SECRET, "msg_ours", ts, BODY.as_bytes()).expect("sign");
    let verdict = python(
        "import sys\n\
         from standardwebhooks.webhooks import Webhook, WebhookVerificationError\n\
         wh = Webhook(sys.argv[1])\n\
         headers = {'webhook-id': sys.argv[2], 'webhook-timestamp': sys.argv[3], 'webhook-signature': sys.argv[4]}\n\
         try:\n\
         \x20   wh.verify(sys.argv[5], headers)\n\
         \x20   print('valid')\n\
         except WebhookVerificationError as e:\n\
         \x20   print('invalid: %s' % e)",
        &[SECRET, "msg_ours", &ts.to_string(), &signature, BODY],
    );
    assert_eq!(verdict, "valid");
    let tampered = python(
        "import sys\n\
         from standardwebhooks.webhooks import Webhook, WebhookVerificationError\n\
         wh = Webhook(sys.argv[1])\n\
         headers = {'webhook-id': sys.argv[2], 'webhook-timestamp': sys.argv[3], 'webhook-signature': sys.argv[4]}\n\
         try:\n\
         \x20   wh.verify(sys.argv[5], headers)\n\
         \x20   print('valid')\n\
         except WebhookVerificationError as e:\n\
         \x20   print('invalid')",
        &[SECRET, "msg_other", &ts.to_string(), &signature, BODY],
    );
    assert_eq!(tampered, "invalid");
}
