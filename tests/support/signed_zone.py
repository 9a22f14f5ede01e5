"""A DNSSEC-signed zone for the loopback DNS server (dnspython's ``dns.dnssec``).

:class:`SignedZone` holds one zone signed with one ECDSA P-256 key (a combined KSK/ZSK,
SEP flag set) and NSEC records (``dns.dnssec.sign_zone``), and answers a question the
way a DNSSEC-aware server does when the query sets DO: the answer RRsets with their
RRSIGs, and for a name without the type (NODATA) or a name that does not exist
(NXDOMAIN) the SOA and the NSEC records that prove it, all signed. Names listed as
``bogus`` get their signatures corrupted, so that a validating resolver answers
SERVFAIL for them (and the data only with CD).

``trust_anchor`` is the zone's DS record in presentation format, for a resolver's
``trust-anchor:`` line. Signatures are valid from 800 days before to 800 days after the
moment of signing: the suite also runs under ``faketime +400d``, and a resolver started
from it may or may not share the shifted clock.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

import dns.dnssec
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdataset
import dns.rdatatype
import dns.rdtypes.ANY.DNSKEY
import dns.rdtypes.ANY.RRSIG
import dns.rrset
import dns.zone
from cryptography.hazmat.primitives.asymmetric import ec

WINDOW = 800 * 86400
_KEY = ec.generate_private_key(ec.SECP256R1())  # one per test process: keygen is the slow part


class SignedZone:
    def __init__(
        self,
        origin: dns.name.Name,
        rrsets: Iterable[dns.rrset.RRset],
        *,
        bogus: Iterable[dns.name.Name] = (),
    ) -> None:
        self.origin = origin
        dnskey = _dnskey()
        zone = dns.zone.Zone(origin, relativize=False)
        with zone.writer() as txn:
            txn.add(
                origin,
                0,
                dns.rdata.from_text(
                    dns.rdataclass.IN,
                    dns.rdatatype.SOA,
                    f"ns.{origin} hostmaster.{origin} 1 3600 600 86400 0",
                ),
            )
            txn.add(
                origin, 0, dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.NS, f"ns.{origin}")
            )
            for rrset in rrsets:
                if rrset.rdtype in (dns.rdatatype.SOA, dns.rdatatype.NS) and rrset.name == origin:
                    txn.replace(rrset.name, rrset)
                else:
                    txn.add(rrset)
        now = int(time.time())
        dns.dnssec.sign_zone(
            zone,
            keys=[(_KEY, dnskey)],
            dnskey_ttl=0,
            inception=now - WINDOW,
            expiration=now + WINDOW,
        )
        self.zone = zone
        for name in bogus:
            self._corrupt(name)
        self._owners = sorted(
            name
            for name, node in zone.nodes.items()
            if node.get_rdataset(dns.rdataclass.IN, dns.rdatatype.NSEC) is not None
        )

    @property
    def trust_anchor(self) -> str:
        return trust_anchor(self.origin)

    def _corrupt(self, name: dns.name.Name) -> None:
        node = self.zone.get_node(name)
        if node is None:
            raise KeyError(f"{name} is not in the signed zone {self.origin}")
        for rdataset in list(node.rdatasets):
            if rdataset.rdtype != dns.rdatatype.RRSIG:
                continue
            broken = dns.rdataset.Rdataset(rdataset.rdclass, rdataset.rdtype, rdataset.covers)
            for sig in rdataset:
                assert isinstance(sig, dns.rdtypes.ANY.RRSIG.RRSIG)
                flipped = bytes([sig.signature[0] ^ 0xFF]) + sig.signature[1:]
                broken.add(sig.replace(signature=flipped), rdataset.ttl)
            node.replace_rdataset(broken)

    # -- answering -------------------------------------------------------------

    def answer(
        self, response: dns.message.Message, qname: dns.name.Name, rdtype: dns.rdatatype.RdataType
    ) -> dns.name.Name | None:
        """Fill ``response`` for ``qname``/``rdtype``; a CNAME target to follow, or ``None``."""
        node = self.zone.get_node(qname)
        if node is not None:
            found = node.get_rdataset(dns.rdataclass.IN, rdtype)
            if found is not None:
                self._add(response.answer, qname, rdtype)
                return None
            cname = node.get_rdataset(dns.rdataclass.IN, dns.rdatatype.CNAME)
            if cname is not None and rdtype != dns.rdatatype.CNAME:
                self._add(response.answer, qname, dns.rdatatype.CNAME)
                target = cname[0].target
                return target if isinstance(target, dns.name.Name) else None
            self._soa(response)
            self._add(response.authority, qname, dns.rdatatype.NSEC)  # NODATA
            return None
        self._soa(response)
        covering = self._covering(qname)
        self._add(response.authority, covering, dns.rdatatype.NSEC)
        if self._has_children(qname):  # an empty non-terminal: NODATA, proved by the cover
            return None
        response.set_rcode(dns.rcode.NXDOMAIN)
        encloser = qname.parent()
        while encloser != self.origin and self.zone.get_node(encloser) is None:
            if self._has_children(encloser):
                break
            encloser = encloser.parent()
        wildcard = dns.name.Name((b"*", *encloser.labels))
        cover = self._covering(wildcard)
        if cover != covering:
            self._add(response.authority, cover, dns.rdatatype.NSEC)
        return None

    def _has_children(self, name: dns.name.Name) -> bool:
        return any(o.is_subdomain(name) and o != name for o in self._owners)

    def _covering(self, name: dns.name.Name) -> dns.name.Name:
        """The NSEC owner just before ``name`` in canonical order (the origin at worst)."""
        before = [o for o in self._owners if o < name]
        return before[-1] if before else self._owners[-1]

    def _soa(self, response: dns.message.Message) -> None:
        self._add(response.authority, self.origin, dns.rdatatype.SOA)

    def _add(
        self, section: list[dns.rrset.RRset], name: dns.name.Name, rdtype: dns.rdatatype.RdataType
    ) -> None:
        node = self.zone.get_node(name)
        assert node is not None
        rdataset = node.get_rdataset(dns.rdataclass.IN, rdtype)
        assert rdataset is not None
        section.append(dns.rrset.from_rdata_list(name, rdataset.ttl, list(rdataset)))
        sigs = node.get_rdataset(dns.rdataclass.IN, dns.rdatatype.RRSIG, rdtype)
        if sigs is not None:
            rrsig = dns.rrset.from_rdata_list(name, sigs.ttl, list(sigs))
            section.append(rrsig)


def _dnskey() -> dns.rdtypes.ANY.DNSKEY.DNSKEY:
    return dns.dnssec.make_dnskey(
        _KEY.public_key(), dns.dnssec.Algorithm.ECDSAP256SHA256, flags=257
    )


def trust_anchor(origin: dns.name.Name) -> str:
    """The DS record of ``origin`` signed by this process's key, as a ``trust-anchor:`` line."""
    ds = dns.dnssec.make_ds(origin, _dnskey(), "SHA256")
    return f"{origin.to_text()} DS {ds.to_text()}"


def wants_dnssec(query: dns.message.Message) -> bool:
    return query.edns >= 0 and bool(query.ednsflags & dns.flags.DO)
