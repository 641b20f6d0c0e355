//! A panic in a function is an ERROR line in its JSON log, with the order's
//! span fields, before `panic = "abort"` ends the process (issue 17). Its
//! own test binary: the panic hook and the global subscriber are
//! process-wide.

use bridge::logging::{log_panics, LogSetup};
use std::sync::{Arc, Mutex};

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("capture").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_panic_is_logged_as_an_error_with_the_orders_span() {
    let capture = Capture::default();
    let writer = capture.clone();
    let subscriber = LogSetup::lambda().subscriber(None, move || writer.clone());
    tracing::subscriber::set_global_default(subscriber).expect("first subscriber");
    log_panics();

    let joined = std::thread::spawn(|| {
        let span = tracing::info_span!("transfer", shop_id = "acme", order_id = "1001");
        let _entered = span.enter();
        panic!("line 3 has no price");
    })
    .join();
    assert!(joined.is_err(), "the thread panicked");

    let text = String::from_utf8(capture.0.lock().expect("capture").clone()).expect("utf-8");
    let line: serde_json::Value = text
        .lines()
        .find(|l| l.contains("panicked"))
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .unwrap_or_else(|| panic!("no panic line in {text:?}"));
    assert_eq!(line["level"], "ERROR");
    assert_eq!(line["fields"]["panic"], "line 3 has no price");
    assert!(line["fields"]["location"]
        .as_str()
        .is_some_and(|l| l.contains("panic_logged.rs:")));
    assert_eq!(line["span"]["shop_id"], "acme");
    assert_eq!(line["span"]["order_id"], "1001");
}
