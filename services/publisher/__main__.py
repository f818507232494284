from services.publisher.app import create_runtime
from shared.worker_main import main

main("publisher", create_runtime)
