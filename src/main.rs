fn main() -> std::process::ExitCode {
    hull::entry::main(hull::commands::dispatch)
}
