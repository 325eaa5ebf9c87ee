from aef_db.cli import main

main()
