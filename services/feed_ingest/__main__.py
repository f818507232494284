from services.feed_ingest.app import create_runtime
from shared.worker_main import main

main("feed_ingest", create_runtime)
