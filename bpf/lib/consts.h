/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* UAPI constants that vmlinux.h cannot carry (they are macros). */
#ifndef BERTH_BPF_CONSTS_H
#define BERTH_BPF_CONSTS_H

#define TC_ACT_UNSPEC (-1) /* no verdict yet */
#define TC_ACT_OK 0
#define TC_ACT_SHOT 2
#define TC_ACT_REDIRECT 7

#define ETH_HLEN 14
#define ETH_ALEN 6
#define ETH_P_IP 0x0800

#define IP_MF 0x2000
#define IP_DF 0x4000
#define IP_OFFSET 0x1fff

#define ICMP_ECHOREPLY 0
#define ICMP_DEST_UNREACH 3
#define ICMP_PORT_UNREACH 3
#define ICMP_SOURCE_QUENCH 4
#define ICMP_ECHO 8
#define ICMP_TIME_EXCEEDED 11
#define ICMP_PARAMETERPROB 12

#define TCP_FLAG_FIN 0x01
#define TCP_FLAG_SYN 0x02
#define TCP_FLAG_RST 0x04
#define TCP_FLAG_ACK 0x10

#define BPF_F_PSEUDO_HDR_FLAG (1ULL << 4)
#define BPF_F_MARK_MANGLED_0_FLAG (1ULL << 5)

/*
 * Header field offsets as plain numbers: offsetof() on vmlinux.h types is a
 * CO-RE relocation, which clang 14 mis-compiles inside a conditional.
 */
#define IP_CSUM_OFF 10
#define IP_SADDR_OFF 12
#define IP_DADDR_OFF 16
#define L4_SPORT_OFF 0
#define L4_DPORT_OFF 2
#define TCP_CSUM_OFF 16
#define UDP_CSUM_OFF 6
#define ICMP_CSUM_OFF 2

#define NSEC_PER_SEC 1000000000ULL

#endif
