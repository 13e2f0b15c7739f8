//! The socket connector against a real TCP server on loopback.

use std::io::Write;
use std::net::TcpListener;

use riffle_connectors::{Format, SocketSink, SocketSource};
use riffle_core::BadRecordPolicy;
use riffle_runtime::{execute, Collector, ExecutionConfig, JobReport, WatermarkStrategy};

/// Serves `payload` to the first client and closes the connection.
fn serve(payload: &'static [u8]) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        conn.write_all(payload).unwrap();
    });
    address
}

fn read_lines(
    address: String,
    policy: BadRecordPolicy,
    format: Format,
) -> (riffle_core::Result<JobReport>, Vec<String>) {
    let out = Collector::new();
    let sink = out.clone();
    let result = execute(&ExecutionConfig::threads(2), move |env| {
        SocketSource::new(address.clone(), format.clone())
            .policy(policy.clone())
            .stream::<String>(env, "socket", WatermarkStrategy::none())?
            .collect_into(&sink);
        Ok(())
    });
    (result, out.values())
}

#[test]
fn reads_lines_until_the_server_closes() {
    let address = serve(b"hello world\nsecond line\n");
    let (result, lines) = read_lines(address, BadRecordPolicy::Fail, Format::Lines);
    assert_eq!(result.unwrap().counter("source.socket.records"), 2);
    assert_eq!(lines, vec!["hello world", "second line"]);
}

#[test]
fn a_connection_closed_mid_record_is_a_bad_record() {
    let address = serve(b"complete\ncut of");
    let (result, lines) = read_lines(address, BadRecordPolicy::Skip, Format::Lines);
    assert_eq!(result.unwrap().counter("source.socket.bad_records"), 1);
    assert_eq!(lines, vec!["complete"]);

    let address = serve(b"complete\ncut of");
    let (result, _) = read_lines(address.clone(), BadRecordPolicy::Fail, Format::Lines);
    let message = result.unwrap_err().to_string();
    assert!(message.contains(&format!("{address}:2")), "{message}");
    assert!(message.contains("in the middle of a record"), "{message}");
}

#[test]
fn nobody_listening_is_a_clear_error() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    drop(listener);
    let (result, _) = read_lines(address.clone(), BadRecordPolicy::Fail, Format::Lines);
    let message = result.unwrap_err().to_string();
    assert!(message.starts_with(&address), "{message}");
    assert!(message.contains("cannot connect"), "{message}");
}

#[test]
fn socket_sink_writes_json_lines() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let server = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        let mut text = String::new();
        std::io::Read::read_to_string(&mut conn, &mut text).unwrap();
        text
    });
    execute(&ExecutionConfig::threads(1), move |env| {
        let sink = SocketSink::connect(address.clone(), Format::JsonLines)?;
        env.from_iter(
            vec![(1u32, "a".to_string()), (2, "b".to_string())],
            WatermarkStrategy::none(),
        )
        .sink("socket", sink);
        Ok(())
    })
    .unwrap();
    assert_eq!(server.join().unwrap(), "[1,\"a\"]\n[2,\"b\"]\n");
}
