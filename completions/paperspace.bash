_paperspace() {
    local IFS=$' \t\n'
    local args cur prev cmd opts arg
    args=("${COMP_WORDS[@]}")
    cur="${COMP_WORDS[COMP_CWORD]}"
    prev="${COMP_WORDS[COMP_CWORD-1]}"
    opts="-h --help --version --api-key-file --profile --api-url --team --json -q --quiet --verbose"

    case "$prev" in
        --api-key-file)
            COMPREPLY=($(compgen -f -- "$cur"))
            return 0
            ;;
        --profile)
            COMPREPLY=($(compgen -f -- "$cur"))
            return 0
            ;;
        --api-url)
            COMPREPLY=($(compgen -f -- "$cur"))
            return 0
            ;;
        --team)
            COMPREPLY=($(compgen -f -- "$cur"))
            return 0
            ;;
    esac

    args=("${args[@]:1}")
    for arg in "${args[@]}"; do
        case "$arg" in
            whoami)
                cmd="whoami"
                opts="$opts -h --help --api-key-file --profile --api-url --team --json -q --quiet --verbose"
                break
                ;;
            members)
                cmd="members"
                opts="$opts -h --help"
                args=("${args[@]:1}")
                for arg in "${args[@]}"; do
                    case "$arg" in
                        list)
                            cmd="$cmd list"
                            opts="$opts -h --help --admins --api-key-file --profile --api-url --team --json -q --quiet --verbose"
                            break
                            ;;
                        promote)
                            cmd="$cmd promote"
                            opts="$opts -h --help --api-key-file --profile --api-url --team --json -q --quiet --verbose"
                            break
                            ;;
                        demote)
                            cmd="$cmd demote"
                            opts="$opts -h --help --api-key-file --profile --api-url --team --json -q --quiet --verbose"
                            break
                            ;;
                        remove)
                            cmd="$cmd remove"
                            opts="$opts -h --help -y --yes --api-key-file --profile --api-url --team --json -q --quiet --verbose"
                            break
                            ;;
                    esac
                done
                break
                ;;
            secrets)
                cmd="secrets"
                opts="$opts -h --help"
                args=("${args[@]:1}")
                for arg in "${args[@]}"; do
                    case "$arg" in
                        list)
                            cmd="$cmd list"
                            opts="$opts -h --help --api-key-file --profile --api-url --team --json -q --quiet --verbose"
                            break
                            ;;
                        get)
                            cmd="$cmd get"
                            opts="$opts -h --help --api-key-file --profile --api-url --team --json -q --quiet --verbose"
                            break
                            ;;
                        set)
                            cmd="$cmd set"
                            opts="$opts -h --help --from-file --value --api-key-file --profile --api-url --team --json -q --quiet --verbose"
                            break
                            ;;
                        delete)
                            cmd="$cmd delete"
                            opts="$opts -h --help --api-key-file --profile --api-url --team --json -q --quiet --verbose"
                            break
                            ;;
                        sync)
                            cmd="$cmd sync"
                            opts="$opts -h --help --prune -n --dry-run --api-key-file --profile --api-url --team --json -q --quiet --verbose"
                            break
                            ;;
                    esac
                done
                break
                ;;
        esac
    done

    case "$cmd" in
        '')
            COMPREPLY=($(compgen -W "whoami members secrets" -- "$cur"))
            ;;
        'whoami')
            case "$prev" in
                --api-key-file)
                    COMPREPLY=($(compgen -f -- "$cur"))
                    return 0
                    ;;
                --profile)
                    COMPREPLY=($(compgen -f -- "$cur"))
                    return 0
                    ;;
                --api-url)
                    COMPREPLY=($(compgen -f -- "$cur"))
                    return 0
                    ;;
                --team)
                    COMPREPLY=($(compgen -f -- "$cur"))
                    return 0
                    ;;
            esac

            ;;
        'members')
            COMPREPLY=($(compgen -W "list promote demote remove" -- "$cur"))
            ;;
        'members list')
            case "$prev" in
                --api-key-file)
                    COMPREPLY=($(compgen -f -- "$cur"))
                    return 0
                    ;;
                --profile)
                    COMPREPLY=($(compgen -f -- "$cur"))
                    return 0
                    ;;
                --api-url)
                    COMPREPLY=($(compgen -f -- "$cur"))
                    return 0
                    ;;
                --team)
                    COMPREPLY=($(compgen -f -- "$cur"))
                    return 0
                    ;;
            esac

            ;;
        'members promote')
            case "$prev" in
                --api-key-file)
                    COMPREPLY=($(compgen -f -- "$cur"))
                    return 0
                    ;;
                --profile)
                    COMPREPLY=($(compgen -f -- "$cur"))
                    return 0
                    ;;
                --api-url)
                    COMPREPLY=($(compgen -f -- "$cur"))
                    return 0
                    ;;
                --team)
                    COMPREPLY=($(compgen -f -- "$cur"))
                    return 0
                    ;;
            esac

            ;;
        'members demote')
            case "$prev" in
                --api-key-file)
                    COMPREPLY=($(compgen -f -- "$cur"))
                    return 0
                    ;;
                --profile)
                    COMPREPLY=($(compgen -f -- "$cur"))
                    return 0
                    ;;
                --api-url)
                    COMPREPLY=($(compgen -f -- "$cur"))
                    return 0
                    ;;
                --team)
                    COMPREPLY=($(compgen -f -- "$cur"))
                    return 0
                    ;;
            esac

            ;;
        'members remove')
            case "$prev" in
                --api-key-file)
                    COMPREPLY=($(compgen -f -- "$cur"))
                    return 0
                    ;;
                --profile)
                    COMPREPLY=($(compgen -f -- "$cur"))
                    return 0
                    ;;
                --api-url)
                    COMPREPLY=($(compgen -f -- "$cur"))
                    return 0
                    ;;
                --team)
                    COMPREPLY=($(compgen -f -- "$cur"))
                    return 0
                    ;;
            esac

            ;;
        'secrets')
            COMPREPLY=($(compgen -W "list get set delete sync" -- "$cur"))
            ;;
        'secrets list')
            case "$prev" in
                --api-key-file)
                    COMPREPLY=($(compgen -f -- "$cur"))
                    return 0
                    ;;
                --profile)
                    COMPREPLY=($(compgen -f -- "$cur"))
                    return 0
                    ;;
                --api-url)
                    COMPREPLY=($(compgen -f -- "$cur"))
                    return 0
                    ;;
                --team)
                    COMPREPLY=($(compgen -f -- "$cur"))
                    return 0
                    ;;
            esac

            ;;
        'secrets get')
            case "$prev" in
                --api-key-file)
                    COMPREPLY=($(compgen -f -- "$cur"))
                    return 0
                    ;;
                --profile)
                    COMPREPLY=($(compgen -f -- "$cur"))
                    return 0
                    ;;
                --api-url)
                    COMPREPLY=($(compgen -f -- "$cur"))
                    return 0
                    ;;
                --team)
                    COMPREPLY=($(compgen -f -- "$cur"))
                    return 0
                    ;;
            esac

            ;;
        'secrets set')
            case "$prev" in
                --from-file)
                    COMPREPLY=($(compgen -f -- "$cur"))
                    return 0
                    ;;
                --value)
                    COMPREPLY=($(compgen -f -- "$cur"))
                    return 0
                    ;;
                --api-key-file)
                    COMPREPLY=($(compgen -f -- "$cur"))
                    return 0
                    ;;
                --profile)
                    COMPREPLY=($(compgen -f -- "$cur"))
                    return 0
                    ;;
                --api-url)
                    COMPREPLY=($(compgen -f -- "$cur"))
                    return 0
                    ;;
                --team)
                    COMPREPLY=($(compgen -f -- "$cur"))
                    return 0
                    ;;
            esac

            ;;
        'secrets delete')
            case "$prev" in
                --api-key-file)
                    COMPREPLY=($(compgen -f -- "$cur"))
                    return 0
                    ;;
                --profile)
                    COMPREPLY=($(compgen -f -- "$cur"))
                    return 0
                    ;;
                --api-url)
                    COMPREPLY=($(compgen -f -- "$cur"))
                    return 0
                    ;;
                --team)
                    COMPREPLY=($(compgen -f -- "$cur"))
                    return 0
                    ;;
            esac

            ;;
        'secrets sync')
            case "$prev" in
                --api-key-file)
                    COMPREPLY=($(compgen -f -- "$cur"))
                    return 0
                    ;;
                --profile)
                    COMPREPLY=($(compgen -f -- "$cur"))
                    return 0
                    ;;
                --api-url)
                    COMPREPLY=($(compgen -f -- "$cur"))
                    return 0
                    ;;
                --team)
                    COMPREPLY=($(compgen -f -- "$cur"))
                    return 0
                    ;;
            esac

            ;;
    esac

    if [[ "$cur" = -* ]]; then
        COMPREPLY=($(compgen -W "$opts" -- "$cur"))
    fi
}

complete -F _paperspace -o bashdefault -o default paperspace
