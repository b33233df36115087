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
			email, err := user.NormalizeEmail("email", args[0])
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
			if len([]rune(password)) < auth.MinPasswordLength {
				return fmt.Errorf("password: must be at least %d characters (pass it with --password-stdin or $CONSILIUM_NEW_PASSWORD)", auth.MinPasswordLength)
			}
			hash, err := auth.HashPassword(password, cfg.Auth.Password)
			if err != nil {
				return err
			}
			return withPool(cmd.Context(), cfg.Database.URL, func(ctx context.Context, d *db.DB) error {
				u, err := user.Create(ctx, d.Pool, &user.CreateParams{Email: email, PasswordHash: hash, FullName: fullName})
				if err != nil {
					return err
				}
				if superuser {
					if _, err := d.Pool.Exec(ctx, `UPDATE users SET is_superuser = true WHERE id = $1`, u.ID); err != nil {
						return err
					}
				}
				fmt.Fprintf(cmd.OutOrStdout(), "created user %s (%s)\n", u.ID, u.Email)
				return nil
			})
		},
	}
	create.Flags().StringVar(&fullName, "full-name", "", "display name")
	create.Flags().BoolVar(&superuser, "superuser", false, "give the user admin rights")
	create.Flags().BoolVar(&passwordStdin, "password-stdin", false, "read the password from the first line of stdin")

	setFlag := func(use, short, column string) *cobra.Command {
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
				return withPool(cmd.Context(), cfg.Database.URL, func(ctx context.Context, d *db.DB) error {
					tag, err := d.Pool.Exec(ctx, `UPDATE users SET `+column+` = $2, updated_at = now() WHERE email = $1`, args[0], value)
					if err != nil {
						return err
					}
					if tag.RowsAffected() == 0 {
						return fmt.Errorf("no user with email %s", args[0])
					}
					fmt.Fprintf(cmd.OutOrStdout(), "%s: %s = %t\n", args[0], column, value)
					return nil
				})
			},
		}
	}
	cmd.AddCommand(create,
		setFlag("set-active", "Activate or deactivate a user (inactive users are refused everywhere)", "is_active"),
		setFlag("set-superuser", "Grant or revoke admin rights", "is_superuser"),
	)
	return cmd
}

func withPool(ctx context.Context, url string, fn func(context.Context, *db.DB) error) error {
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
	return fn(ctx, db.New(pool))
}
