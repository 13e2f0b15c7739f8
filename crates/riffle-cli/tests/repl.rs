//! `riffle sql` on a terminal: the interactive shell, driven through a pseudo-terminal as a
//! person types into it. A statement spread over lines runs when its `;` comes, Tab
//! completes a table's name, the up arrow brings back the last statement, a mistyped one
//! prints an error and the shell goes on, and the statements are in the history file after
//! `QUIT;`.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The shell's prompt for a new statement, and for a statement's next line.
const PROMPT: &str = "Riffle SQL> ";
const MORE: &str = "         > ";

/// A new pseudo-terminal of 40 rows and 400 columns (wide enough that no typed line wraps,
/// so the first newline after a line is Enter's): its master and slave ends.
#[allow(unsafe_code)]
fn pseudo_terminal() -> (OwnedFd, OwnedFd) {
    let (mut master, mut slave) = (-1, -1);
    let size = libc::winsize {
        ws_row: 40,
        ws_col: 400,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: `openpty` writes two descriptors it opened into `master` and `slave`; the name
    // and terminal settings are null (not wanted, defaults), and `size` outlives the call.
    let status = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            &size,
        )
    };
    assert_eq!(status, 0, "openpty: {}", std::io::Error::last_os_error());
    // SAFETY: both descriptors were just opened by `openpty`, and nothing else owns them.
    unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) }
}

/// `riffle sql` with its standard input, output and error on a pseudo-terminal, and what
/// it has written to the terminal so far.
struct Shell {
    child: Child,
    keys: File,
    screen: Arc<Mutex<Vec<u8>>>,
    /// How much of `screen` the expectations have passed.
    read: usize,
}

impl Shell {
    fn start(home: &Path) -> Shell {
        let (master, slave) = pseudo_terminal();
        let child = Command::new(env!("CARGO_BIN_EXE_riffle"))
            .arg("sql")
            .env("HOME", home)
            .env("TERM", "xterm")
            .stdin(Stdio::from(slave.try_clone().unwrap()))
            .stdout(Stdio::from(slave.try_clone().unwrap()))
            .stderr(Stdio::from(slave))
            .spawn()
            .unwrap();
        let keys = File::from(master);
        let mut output = keys.try_clone().unwrap();
        let screen = Arc::new(Mutex::new(Vec::new()));
        let filled = Arc::clone(&screen);
        std::thread::spawn(move || {
            let mut buffer = [0u8; 4096];
            // Once the shell has exited, reading the master end fails (EIO): the end.
            while let Ok(n @ 1..) = output.read(&mut buffer) {
                filled.lock().unwrap().extend_from_slice(&buffer[..n]);
            }
        });
        Shell {
            child,
            keys,
            screen,
            read: 0,
        }
    }

    /// Types `keys`.
    fn send(&mut self, keys: &str) {
        self.keys.write_all(keys.as_bytes()).unwrap();
    }

    /// Types `keys` and Enter, and returns what the shell printed after the line until its
    /// next prompt. While a line is typed the shell redraws it, prompt and all; the line
    /// ends at the newline Enter prints.
    fn enter(&mut self, keys: &str) -> String {
        self.send(&format!("{keys}\r"));
        self.expect("\n");
        self.expect(PROMPT)
    }

    /// Waits for `text` on the screen after what earlier expectations passed, and returns
    /// what came before it. The shell reads a line only once its prompt is out (it asks the
    /// terminal where the cursor is first, and would take early keys for the answer), so
    /// a line is typed after its prompt is expected.
    fn expect(&mut self, text: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            {
                let screen = self.screen.lock().unwrap();
                let unread = String::from_utf8_lossy(&screen[self.read..]).into_owned();
                if let Some(at) = unread.find(text) {
                    self.read += unread[..at + text.len()].len();
                    return unread[..at].to_string();
                }
                assert!(
                    Instant::now() < deadline,
                    "no {text:?} on the screen after:\n{unread}"
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

#[test]
fn the_shell_runs_statements_over_lines_completes_recalls_and_keeps_history() {
    let dir = tempfile::tempdir().unwrap();
    let bids = dir.path().join("bids.csv");
    std::fs::write(&bids, "1001,7\n1002,55\n1003,99\n").unwrap();
    let mut shell = Shell::start(dir.path());

    shell.expect(PROMPT);
    shell.enter(&format!(
        "CREATE TABLE bids (auction BIGINT, price BIGINT) WITH ('connector' = 'filesystem', \
         'path' = '{}', 'format' = 'csv');",
        bids.display()
    ));

    // A statement over two lines runs when its `;` comes, and prints an aligned table.
    shell.send("SELECT auction, price\r");
    shell.expect("\n");
    shell.expect(MORE);
    let table = shell.enter("FROM bids WHERE price > 10;");
    assert!(
        table.contains("1002") && table.contains("1003") && !table.contains("1001"),
        "{table}"
    );
    assert!(table.contains("| auction | price |"), "{table}");
    assert!(table.contains("2 rows in set"), "{table}");

    // Tab completes the table's name: `bi` alone names no table.
    shell.send("SELECT auction FROM bi\t");
    let completed = shell.enter(" WHERE price = 99;");
    assert!(
        completed.contains("1003") && !completed.contains("1002"),
        "{completed}"
    );
    assert!(!completed.contains("ERROR"), "{completed}");

    // The up arrow brings the last statement back.
    let recalled = shell.enter("\x1b[A");
    assert!(
        recalled.contains("1003") && !recalled.contains("1002"),
        "{recalled}"
    );

    // A mistyped statement prints an error that names the place, and the shell goes on.
    let error = shell.enter("SELEC auction FROM bids;");
    assert!(error.contains("[ERROR]"), "{error}");
    assert!(error.contains("line 1, column 1"), "{error}");
    assert!(error.contains("  ^"), "{error}");
    let count = shell.enter("SELECT COUNT(*) AS n FROM bids;");
    assert!(count.contains('3'), "{count}");

    shell.send("QUIT;\r");
    let status = shell.child.wait().unwrap();
    assert!(status.success(), "{status}");
    let history = std::fs::read_to_string(dir.path().join(".riffle_sql_history")).unwrap();
    assert!(
        history.contains("SELECT auction FROM bids WHERE price = 99;"),
        "{history}"
    );
    assert!(history.contains("FROM bids WHERE price > 10;"), "{history}");
}
