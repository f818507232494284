from services.notifier.app import create_runtime
from shared.worker_main import main

main("notifier", create_runtime)
