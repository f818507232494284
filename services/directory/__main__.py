from services.directory.app import create_runtime
from shared.worker_main import main

main("directory", create_runtime)
