package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/consilium-hq/consilium/core/auth"
	"github.com/consilium-hq/consilium/core/db"
	"github.com/consilium-hq/consilium/core/user"
)

func newUserCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "user", Short: "Administer user accounts"}

	var fullName string
	var superuser, passwordStdin bool
	create := &cobra.Command{
		Use:   "create EMAIL",
		Short: "Create a user; the password is read from stdin (--password-stdin) or $CONSILIUM_NEW_PASSWORD",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			password := os.Getenv("CONSILIUM_NEW_PASSWORD")
			if passwordStdin {
				line, err := bufio.NewReader(cmd.InOrStdin()).ReadString('\n')
				if err != nil && line == "" {
					return fmt.Errorf("read password from stdin: %w", err)
				}
				password = strings.TrimRight(line, "\r\n")
			}
			if password == "" {
				return errors.New("no password: pass it with --password-stdin or $CONSILIUM_NEW_PASSWORD")
			}
			if err := auth.CheckPassword(password); err != nil {
				return err
			}
			hash, err := auth.HashPassword(password, cfg.Auth.Password)
			if err != nil {
				return err
			}
			return withUsers(cmd.Context(), cfg.Database.URL, func(ctx context.Context, users *user.Service) error {
				u, err := users.Create(ctx, &user.NewUser{Email: args[0], PasswordHash: hash, FullName: fullName, Superuser: superuser})
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "created user %s (%s)\n", u.ID, u.Email)
				return nil
			})
		},
	}
	create.Flags().StringVar(&fullName, "full-name", "", "display name")
	create.Flags().BoolVar(&superuser, "superuser", false, "give the user admin rights")
	create.Flags().BoolVar(&passwordStdin, "password-stdin", false, "read the password from the first line of stdin")

	setFlag := func(use, short, column string, flags func(*bool) user.Flags) *cobra.Command {
		return &cobra.Command{
			Use:   use + " EMAIL true|false",
			Short: short,
			Args:  cobra.ExactArgs(2),
			RunE: func(cmd *cobra.Command, args []string) error {
				cfg, err := loadDBConfig(cmd)
				if err != nil {
					return err
				}
				var value bool
				switch args[1] {
				case "true":
					value = true
				case "false":
				default:
					return errors.New("the second argument must be true or false")
				}
				return withUsers(cmd.Context(), cfg.Database.URL, func(ctx context.Context, users *user.Service) error {
					u, err := users.SetFlags(ctx, args[0], flags(&value))
					if err != nil {
						return err
					}
					fmt.Fprintf(cmd.OutOrStdout(), "%s: %s = %t\n", u.Email, column, value)
					return nil
				})
			},
		}
	}
	cmd.AddCommand(create,
		setFlag("set-active", "Activate or deactivate a user (inactive users are refused everywhere)", "is_active",
			func(v *bool) user.Flags { return user.Flags{Active: v} }),
		setFlag("set-superuser", "Grant or revoke admin rights", "is_superuser",
			func(v *bool) user.Flags { return user.Flags{Superuser: v} }),
	)
	return cmd
}

// withUsers opens a small pool on a migrated database and hands fn the
// users service.
func withUsers(ctx context.Context, url string, fn func(context.Context, *user.Service) error) error {
	if ctx == nil {
		ctx = context.Background()
	}
	pool, err := db.Open(ctx, url, db.PoolOptions{MaxConns: 2})
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := db.NewMigrator(pool, newLogger(defaultLog())).CheckMigrated(ctx); err != nil {
		return err
	}
	return fn(ctx, user.NewService(db.New(pool)))
}
