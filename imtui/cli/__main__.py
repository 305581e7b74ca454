from imtui.cli import main

main()
